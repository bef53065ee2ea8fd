/*
 * svg.h - plots of replay results, written as SVG by hand: no plotting tool
 * is needed to build the docs.
 */
#ifndef LULL_SIM_SVG_H
#define LULL_SIM_SVG_H

#include <stdio.h>

#include "run.h"
#include "sim.h"

/* Traffic of tr over time, then one lane per policy: key epochs (stale part
 * greyed), heartbeats, and the longest spoof window.  row[0..n): tr's
 * results, one per policy. */
void sim_svg_timeline(const sim_trace *tr, const sim_result *row, size_t n, FILE *out);

/* Bars per policy: handshakes, spoof window, longest key life, most bytes
 * under one key (log scales, values written out). */
void sim_svg_bars(const sim_result *row, size_t n, FILE *out);

#endif /* LULL_SIM_SVG_H */

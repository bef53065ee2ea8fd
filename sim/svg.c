/*
 * svg.c - timeline and bar plots as plain SVG 1.1.
 *
 * Invariants:
 *  - Layout constants are in pixels and named below; coordinates are
 *    printed with one decimal, so the same results give the same file.
 *  - Text from outside (trace names come from file names) is escaped.
 *  - Plots only draw figures sim_result holds; they compute nothing new.
 */
#include "svg.h"

#include <math.h>
#include <string.h>

#include "report.h"

#define SVG_WIDTH_PX        1000.0
#define SVG_LEFT_PX         150.0 /* lane labels */
#define SVG_RIGHT_PX        20.0
#define SVG_TOP_PX          40.0
#define SVG_TRAFFIC_PX      90.0
#define SVG_LANE_PX         34.0
#define SVG_LANE_BAR_PX     18.0
#define SVG_HB_TICK_PX      6.0
#define SVG_AXIS_PX         40.0
#define SVG_LEGEND_PX       40.0
#define SVG_TRAFFIC_BINS    240
#define SVG_FONT            "font-family=\"sans-serif\""
#define SVG_EPOCH_FILL_A    "#3b6ea8"
#define SVG_EPOCH_FILL_B    "#86acd8"
#define SVG_STALE_FILL      "#d9d9d9"
#define SVG_HEARTBEAT_COLOR "#c0392b"
#define SVG_SPOOF_COLOR     "#e67e22"
#define SVG_TRAFFIC_C2S     "#2e8b57"
#define SVG_TRAFFIC_S2C     "#7b68ee"

#define BARS_PANEL_W_PX 490.0
#define BARS_LABEL_PX   90.0
#define BARS_VALUE_PX   90.0
#define BARS_ROW_PX     22.0
#define BARS_TITLE_PX   34.0
#define BARS_GAP_PX     20.0
#define BARS_COLOR      "#3b6ea8"
#define BARS_COLOR_LULL "#2e8b57"

static void text_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

static void svg_open(FILE *out, double w, double h, const char *title)
{
	fprintf(out,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
	        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	        "<text x=\"%.1f\" y=\"22\" " SVG_FONT " font-size=\"15\" font-weight=\"bold\">",
	        w, h, w, h, 10.0);
	text_escaped(out, title);
	fprintf(out, "</text>\n");
}

static void label(FILE *out, double x, double y, const char *anchor, const char *s)
{
	fprintf(out,
	        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" " SVG_FONT " font-size=\"12\">", x,
	        y, anchor);
	text_escaped(out, s);
	fprintf(out, "</text>\n");
}

/* ---- Timeline ------------------------------------------------------------- */

typedef struct xmap {
	double x0, w;
	uint64_t duration_ms;
} xmap;

static double xat(const xmap *m, uint64_t t_ms)
{
	if (m->duration_ms == 0)
		return m->x0;
	if (t_ms > m->duration_ms)
		t_ms = m->duration_ms;
	return m->x0 + m->w * (double)t_ms / (double)m->duration_ms;
}

/* A tick step giving at most ~12 ticks over the duration. */
static uint64_t tick_step_ms(uint64_t duration_ms)
{
	static const uint64_t steps[] = {
	        SIM_MS_PER_S,        10 * SIM_MS_PER_S,   SIM_MS_PER_MIN,      5 * SIM_MS_PER_MIN,
	        10 * SIM_MS_PER_MIN, 15 * SIM_MS_PER_MIN, 30 * SIM_MS_PER_MIN, SIM_MS_PER_H,
	        2 * SIM_MS_PER_H,    3 * SIM_MS_PER_H,    6 * SIM_MS_PER_H,    12 * SIM_MS_PER_H,
	        SIM_MS_PER_DAY};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (duration_ms / steps[i] <= 12)
			return steps[i];
	return SIM_MS_PER_DAY * (duration_ms / SIM_MS_PER_DAY / 12 + 1);
}

static void time_axis(FILE *out, const xmap *m, double y_top, double y_axis)
{
	uint64_t step = tick_step_ms(m->duration_ms);
	fprintf(out, "<g stroke=\"#999\" stroke-width=\"0.5\">\n");
	for (uint64_t t = 0; t <= m->duration_ms; t += step)
		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", xat(m, t),
		        y_top, xat(m, t), y_axis + 4);
	fprintf(out, "</g>\n");
	for (uint64_t t = 0; t <= m->duration_ms; t += step) {
		char buf[32];
		if (step >= SIM_MS_PER_H)
			snprintf(buf, sizeof(buf), "%lluh", (unsigned long long)(t / SIM_MS_PER_H));
		else if (step >= SIM_MS_PER_MIN)
			snprintf(buf, sizeof(buf), "%llum",
			         (unsigned long long)(t / SIM_MS_PER_MIN));
		else
			snprintf(buf, sizeof(buf), "%llus", (unsigned long long)(t / SIM_MS_PER_S));
		label(out, xat(m, t), y_axis + 18, "middle", buf);
	}
}

/* Messages per bin, c2s up and s2c down from a middle line, log scale. */
static void traffic(FILE *out, const sim_trace *tr, const xmap *m, double y)
{
	uint64_t c2s[SVG_TRAFFIC_BINS] = {0}, s2c[SVG_TRAFFIC_BINS] = {0}, peak = 1;
	for (size_t i = 0; i < tr->n; i++) {
		uint64_t bin = tr->duration_ms
		                       ? tr->msgs[i].t_ms * SVG_TRAFFIC_BINS / (tr->duration_ms + 1)
		                       : 0;
		if (tr->msgs[i].dir == SIM_C2S)
			c2s[bin]++;
		else
			s2c[bin]++;
	}
	for (int b = 0; b < SVG_TRAFFIC_BINS; b++) {
		peak = c2s[b] > peak ? c2s[b] : peak;
		peak = s2c[b] > peak ? s2c[b] : peak;
	}
	double mid = y + SVG_TRAFFIC_PX / 2, half = SVG_TRAFFIC_PX / 2 - 4;
	double bw = m->w / SVG_TRAFFIC_BINS, scale = log10(1.0 + (double)peak);
	for (int b = 0; b < SVG_TRAFFIC_BINS; b++) {
		double x = m->x0 + bw * b;
		double up = half * log10(1.0 + (double)c2s[b]) / scale;
		double down = half * log10(1.0 + (double)s2c[b]) / scale;
		if (c2s[b])
			fprintf(out,
			        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			        "fill=\"" SVG_TRAFFIC_C2S "\"/>\n",
			        x, mid - up, bw, up);
		if (s2c[b])
			fprintf(out,
			        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			        "fill=\"" SVG_TRAFFIC_S2C "\"/>\n",
			        x, mid, bw, down);
	}
	fprintf(out,
	        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
	        "stroke-width=\"0.5\"/>\n",
	        m->x0, mid, m->x0 + m->w, mid);
	char buf[64];
	snprintf(buf, sizeof(buf), "peak %llu msgs/bin", (unsigned long long)peak);
	label(out, SVG_LEFT_PX - 8, mid - 14, "end", "traffic (log)");
	label(out, SVG_LEFT_PX - 8, mid + 2, "end", "c2s up, s2c down");
	label(out, SVG_LEFT_PX - 8, mid + 18, "end", buf);
}

static void lane(FILE *out, const sim_result *r, const xmap *m, double y)
{
	char buf[96];
	snprintf(buf, sizeof(buf), "%s", r->policy);
	label(out, SVG_LEFT_PX - 8, y + 13, "end", buf);
	snprintf(buf, sizeof(buf), "%llu hs, %llu hb", (unsigned long long)r->handshakes,
	         (unsigned long long)r->heartbeats);
	label(out, SVG_LEFT_PX - 8, y + 27, "end", buf);
	for (size_t i = 0; i < r->n_epochs; i++) {
		const sim_epoch *e = &r->epochs[i];
		uint64_t usable_end = e->accept_end_ms < e->end_ms ? e->accept_end_ms : e->end_ms;
		double x0 = xat(m, e->start_ms), xs = xat(m, usable_end), x1 = xat(m, e->end_ms);
		if (xs > x0)
			fprintf(out,
			        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			        "fill=\"%s\"/>\n",
			        x0, y, xs - x0, SVG_LANE_BAR_PX,
			        i % 2 ? SVG_EPOCH_FILL_B : SVG_EPOCH_FILL_A);
		if (x1 > xs)
			fprintf(out,
			        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			        "fill=\"" SVG_STALE_FILL "\"/>\n",
			        xs, y, x1 - xs, SVG_LANE_BAR_PX);
	}
	if (r->n_heartbeats) {
		fprintf(out, "<path stroke=\"" SVG_HEARTBEAT_COLOR "\" stroke-width=\"0.7\" d=\"");
		for (size_t i = 0; i < r->n_heartbeats; i++)
			fprintf(out, "M%.1f %.1fv%.1f", xat(m, r->heartbeat_ms[i]),
			        y + SVG_LANE_BAR_PX + 1, SVG_HB_TICK_PX);
		fprintf(out, "\"/>\n");
	}
	if (r->spoof_window_ms) {
		double x0 = xat(m, r->spoof_window_start_ms);
		double x1 = xat(m, r->spoof_window_start_ms + r->spoof_window_ms);
		fprintf(out,
		        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
		        "stroke=\"" SVG_SPOOF_COLOR "\" stroke-width=\"2\"/>\n",
		        x0, y - 2, x1 - x0 > 1.5 ? x1 - x0 : 1.5, SVG_LANE_BAR_PX + 4);
	}
}

static void legend(FILE *out, double y)
{
	double x = SVG_LEFT_PX;
	fprintf(out,
	        "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"" SVG_EPOCH_FILL_A
	        "\"/><rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" "
	        "fill=\"" SVG_EPOCH_FILL_B "\"/>\n",
	        x, y, x + 14, y);
	label(out, x + 34, y + 10, "start", "key epochs (alternating)");
	x += 210;
	fprintf(out,
	        "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" "
	        "fill=\"" SVG_STALE_FILL "\"/>\n",
	        x, y);
	label(out, x + 20, y + 10, "start", "key no longer accepted");
	x += 190;
	fprintf(out,
	        "<path stroke=\"" SVG_HEARTBEAT_COLOR "\" stroke-width=\"1.5\" "
	        "d=\"M%.1f %.1fv10\"/>\n",
	        x + 6, y);
	label(out, x + 16, y + 10, "start", "heartbeat");
	x += 100;
	fprintf(out,
	        "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"none\" "
	        "stroke=\"" SVG_SPOOF_COLOR "\" stroke-width=\"2\"/>\n",
	        x, y);
	label(out, x + 20, y + 10, "start", "longest spoof window");
}

void sim_svg_timeline(const sim_trace *tr, const sim_result *row, size_t n, FILE *out)
{
	double h =
	        SVG_TOP_PX + SVG_TRAFFIC_PX + SVG_LANE_PX * (double)n + SVG_AXIS_PX + SVG_LEGEND_PX;
	char title[160], dur[32];
	sim_fmt_duration(dur, sizeof(dur), tr->duration_ms);
	snprintf(title, sizeof(title), "%s (%s, %zu messages): key epochs per policy", tr->name,
	         dur, tr->n);
	svg_open(out, SVG_WIDTH_PX, h, title);
	xmap m = {SVG_LEFT_PX, SVG_WIDTH_PX - SVG_LEFT_PX - SVG_RIGHT_PX, tr->duration_ms};
	double y_axis = SVG_TOP_PX + SVG_TRAFFIC_PX + SVG_LANE_PX * (double)n;
	time_axis(out, &m, SVG_TOP_PX, y_axis);
	traffic(out, tr, &m, SVG_TOP_PX);
	for (size_t p = 0; p < n; p++)
		lane(out, &row[p], &m, SVG_TOP_PX + SVG_TRAFFIC_PX + SVG_LANE_PX * (double)p + 6);
	legend(out, y_axis + SVG_AXIS_PX);
	fprintf(out, "</svg>\n");
}

/* ---- Bars ------------------------------------------------------------------ */

typedef enum bar_metric { BAR_HANDSHAKES, BAR_SPOOF, BAR_LIFE, BAR_BYTES, BAR_METRICS } bar_metric;

static const char *const bar_titles[BAR_METRICS] = {"full handshakes", "longest spoof window",
                                                    "longest key life", "most bytes under one key"};

/* The log scale's floor: a bar of this value has no length. */
static const uint64_t bar_floor[BAR_METRICS] = {1, SIM_MS_PER_S, SIM_MS_PER_S, SIM_KIB};

static uint64_t bar_value(const sim_result *r, bar_metric k)
{
	switch (k) {
	case BAR_HANDSHAKES:
		return r->handshakes;
	case BAR_SPOOF:
		return r->spoof_window_ms;
	case BAR_LIFE:
		return r->max_key_life_ms;
	default:
		return r->max_key_bytes;
	}
}

static void bar_text(char *buf, size_t len, const sim_result *r, bar_metric k)
{
	uint64_t v = bar_value(r, k);
	if (k == BAR_HANDSHAKES)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else if (k == BAR_BYTES)
		sim_fmt_bytes(buf, len, v);
	else
		sim_fmt_duration(buf, len, v);
}

static void bar_panel(FILE *out, const sim_result *row, size_t n, bar_metric k, double x, double y)
{
	label(out, x, y + 14, "start", bar_titles[k]);
	uint64_t hi = bar_floor[k] * 10;
	for (size_t p = 0; p < n; p++)
		hi = bar_value(&row[p], k) > hi ? bar_value(&row[p], k) : hi;
	double span = log10((double)hi / (double)bar_floor[k]);
	double bar_w = BARS_PANEL_W_PX - BARS_LABEL_PX - BARS_VALUE_PX;
	for (size_t p = 0; p < n; p++) {
		double ry = y + BARS_TITLE_PX + BARS_ROW_PX * (double)p;
		uint64_t v = bar_value(&row[p], k);
		double frac = v > bar_floor[k] ? log10((double)v / (double)bar_floor[k]) / span : 0;
		double w = bar_w * frac;
		label(out, x + BARS_LABEL_PX - 6, ry + 13, "end", row[p].policy);
		fprintf(out,
		        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		        "fill=\"%s\"/>\n",
		        x + BARS_LABEL_PX, ry + 2, w < 1 ? 1 : w, BARS_ROW_PX - 6,
		        strcmp(row[p].policy, "lull") == 0 ? BARS_COLOR_LULL : BARS_COLOR);
		char buf[32];
		bar_text(buf, sizeof(buf), &row[p], k);
		label(out, x + BARS_LABEL_PX + (w < 1 ? 1 : w) + 4, ry + 13, "start", buf);
	}
}

void sim_svg_bars(const sim_result *row, size_t n, FILE *out)
{
	double panel_h = BARS_TITLE_PX + BARS_ROW_PX * (double)n + BARS_GAP_PX;
	double h = SVG_TOP_PX + 2 * panel_h + 20;
	char title[160];
	snprintf(title, sizeof(title), "%s: cost and exposure per policy (log scales)",
	         n ? row[0].trace : "");
	svg_open(out, SVG_WIDTH_PX, h, title);
	for (int k = 0; k < BAR_METRICS; k++)
		bar_panel(out, row, n, (bar_metric)k, 10 + BARS_PANEL_W_PX * (k % 2),
		          SVG_TOP_PX + panel_h * (k / 2));
	fprintf(out, "</svg>\n");
}

/*
 * config.h - limits derived from a validated lull_config.
 *
 * The brief's hard caps are defined relative to other knobs; a config that
 * leaves them 0 gets the derived value, computed here and nowhere else.
 */
#ifndef LULL_CONFIG_H
#define LULL_CONFIG_H

#include <string.h>

#include "lull.h"

/* reject_after_bytes, or 2 x rekey_bytes when unset. */
uint64_t config_reject_after_bytes(const lull_config *cfg);

/* reject_after_age, or rekey_max_age + srk_lifetime (the handshake timeout). */
uint64_t config_reject_after_age_ms(const lull_config *cfg);

#endif /* LULL_CONFIG_H */

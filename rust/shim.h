/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The functions that cross the Rust/C boundary of csdwatch, both ways.
 * Rust side: rust/ffi.rs (declares the csdw_* ones, defines csdwatch_rs_*).
 */
#ifndef CSDWATCH_SHIM_H
#define CSDWATCH_SHIM_H

/* Implemented in Rust. */
int csdwatch_rs_param_set(unsigned int id, unsigned int val);
unsigned int csdwatch_rs_param_get(unsigned int id);
unsigned long long csdwatch_rs_stat(unsigned int id);

/* Implemented in shim.c. */
int csdw_stats_register(void);
void csdw_stats_unregister(void);

#endif

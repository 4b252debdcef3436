/*
 * valuetask: error codes.
 *
 * Calls that can fail return int: 0 (or a non-negative status) on success, a
 * negative code otherwise. Two families never collide:
 *  - an operation's own failure, which the producer passes to set_error:
 *    any negative int, by convention -errno (-ECANCELED means canceled);
 *  - the library's misuse codes below, all under -4095, outside errno's range.
 * The block -4159 .. -4096 is reserved for the library; set_error refuses it.
 */
#ifndef VALUETASK_ERROR_H
#define VALUETASK_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
	VT_ETOKEN = -4097,      /* the token does not match the source's version (stale) */
	VT_EPENDING = -4098,    /* result asked for before completion */
	VT_EAWAITED = -4099,    /* a continuation is already registered */
	VT_ECOMPLETED = -4100,  /* completing a source that is already completed */
	VT_EEXHAUSTED = -4101,  /* a pool has no free object and may not grow */
	VT_EINVAL = -4102,      /* a NULL or otherwise invalid argument */
	VT_ENOMEM = -4103,      /* an allocation failed; nothing was changed */
	VT_ESHUTDOWN = -4104,   /* an executor was shut down and takes no more work */
};

#define VT__ERR_FIRST (-4159) /* lowest reserved library code */
#define VT__ERR_LAST (-4096)  /* highest reserved library code */

/* True for a code in the library's reserved block. */
static inline bool vt_is_library_error(int err)
{
	return err >= VT__ERR_FIRST && err <= VT__ERR_LAST;
}

/*
 * A static string naming err: the library's codes by name, negative errno
 * values through strerror-style names, non-negative values as "success".
 * Never NULL.
 */
VT_API const char *vt_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_ERROR_H */

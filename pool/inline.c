/*
 * Out-of-line, exported copies of promise.h's inline calls (see
 * lib/inline.c). The headers promise.h builds on come first, still inline,
 * so that only promise.h's own calls are emitted here.
 */
#include "valuetask/core.h"
#include "valuetask/task.h"

#undef VT_INLINE
#define VT_INLINE VT_API

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#endif

#include "valuetask/promise.h"

/*
 * Out-of-line, exported copies of the hot paths that core.h, task.h and
 * executor.h define inline, for bindings and debuggers (liburing's ffi.c).
 */
#define VT_INLINE VT_API

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#endif

#include "valuetask/core.h"
#include "valuetask/task.h"

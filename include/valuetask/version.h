/* valuetask: version of these headers. */
#ifndef VALUETASK_VERSION_H
#define VALUETASK_VERSION_H

#include "common.h"

#define VT_VERSION_MAJOR 0
#define VT_VERSION_MINOR 1
#define VT_VERSION_PATCH 0
#define VT_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually linked, as "major.minor.patch". */
VT_API const char *vt_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* VALUETASK_VERSION_H */

/* Error names and the library version. */
#include <string.h>

#include "valuetask/error.h"
#include "valuetask/version.h"

const char *vt_strerror(int err)
{
	switch (err) {
	case VT_ETOKEN:
		return "VT_ETOKEN: stale token (consumed already, recycled, or foreign)";
	case VT_EPENDING:
		return "VT_EPENDING: the operation has not completed yet";
	case VT_EAWAITED:
		return "VT_EAWAITED: a continuation is already registered";
	case VT_ECOMPLETED:
		return "VT_ECOMPLETED: the operation was already completed";
	case VT_EEXHAUSTED:
		return "VT_EEXHAUSTED: the pool has no free object and may not grow";
	case VT_EINVAL:
		return "VT_EINVAL: invalid argument";
	case VT_ENOMEM:
		return "VT_ENOMEM: out of memory; nothing was changed";
	case VT_ESHUTDOWN:
		return "VT_ESHUTDOWN: the executor was shut down";
	default:
		break;
	}
	if (err >= 0)
		return "success";
	if (vt_is_library_error(err))
		return "unknown valuetask error";
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	if (err > -4096) {
		/* strerrordesc_np is thread-safe and never formats into a buffer. */
		const char *d = strerrordesc_np(-err);
		if (d != NULL)
			return d;
	}
#endif
	return "operation failed";
}

const char *vt_version_string(void)
{
	return VT_VERSION_STRING;
}

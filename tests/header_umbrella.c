/*
 * tests/header_umbrella.c: the umbrella header alone, under -std=c11
 * -pedantic-errors -Werror (see tests/meson.build), included twice.
 */
#include <valuetask.h>
#include <valuetask.h>

int vt_header_tu_umbrella(void);

int vt_header_tu_umbrella(void)
{
	/* A few uses, so that the declarations are not only parsed. */
	vt_task t = vt_task_from_value(vt_value_i64(1));
	vt_value v = { .u64 = 0 };

	if (vt_task_get_result(t, &v) != 0 || v.i64 != 1)
		return 1;
	if (!vt_task_is_completed(t) || sizeof(vt_task) > 16 || sizeof(vt_promise) > 64)
		return 1;
	return vt_is_library_error(VT_ETOKEN) ? 0 : 1;
}

/* vt_task_forget and vt_task_cancel: dispatch to the source's optional ops. */
#include "valuetask/compose.h"

int vt_task_forget(vt_task t)
{
	vt_source *src = vt_task_source(t);

	if (src == NULL)
		return 0; /* a task that carries its result holds nothing */
	if (src->ops->forget == NULL)
		return VT_EINVAL;
	VT__TASK_PASS_EPOCH(t); /* -Dgeneration_check: a stale epoch is VT_ETOKEN here too */
	return src->ops->forget(src, vt_task_token(t));
}

int vt_task_cancel(vt_task t)
{
	vt_source *src = vt_task_source(t);

	if (src == NULL)
		return VT_ECOMPLETED; /* it carries its result: nothing to cancel */
	if (src->ops->cancel == NULL)
		return VT_EINVAL;
	VT__TASK_PASS_EPOCH(t);
	return src->ops->cancel(src, vt_task_token(t));
}

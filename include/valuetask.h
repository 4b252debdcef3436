/*
 * valuetask: allocation-free completion handles for C servers.
 *
 * The umbrella header. See README.md for the model and an example.
 */
#ifndef VALUETASK_H
#define VALUETASK_H

#include "valuetask/alloc.h"
#include "valuetask/common.h"
#include "valuetask/compose.h"
#include "valuetask/core.h"
#include "valuetask/error.h"
#include "valuetask/executor.h"
#include "valuetask/loop.h"
#include "valuetask/pool.h"
#include "valuetask/promise.h"
#include "valuetask/shared.h"
#include "valuetask/source.h"
#include "valuetask/task.h"
#include "valuetask/threadpool.h"
#include "valuetask/version.h"
#include "valuetask/wait.h"
#include "valuetask/when.h"

#endif /* VALUETASK_H */

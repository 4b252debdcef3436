/*
 * For programs that compile server.c in (fuzz_resp.c, test_nomem.c): a
 * loop without a thread of its own, and connections on one end of a
 * socketpair, the other end the test's client. Include after server.c.
 */
#ifndef VT_SERVER_HARNESS_H
#define VT_SERVER_HARNESS_H

/* l serves s, which has only this loop: no listener, its own epoll and
 * vt_loop (run by the test with vt_loop_run_once). 0, or -1. */
static int harness_loop_init(srv *s, loop *l)
{
	s->loops = l;
	l->s = s;
	l->lfd = -1;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0)
		return -1;
	return loop_create_exec(l, &s->cfg) == 0 ? 0 : -1;
}

/* A connection of l on sv[0], read-ready, linked into l's list; sv[1] is
 * the client's end. NULL when any step failed. */
static conn *harness_attach(loop *l, int sv[2])
{
	struct epoll_event ev;
	conn *c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		return NULL;
	c = conn_new(l, sv[0]);
	if (c == NULL)
		return NULL;
	c->events = EPOLLIN | EPOLLRDHUP; /* as loop_accept sets it */
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, sv[0], &ev) != 0)
		return NULL;
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;
	return c;
}

#endif /* VT_SERVER_HARNESS_H */

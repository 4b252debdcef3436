/*
 * core.pml: a Promela model of vt_core's versioned completion protocol
 * (include/valuetask/core.h, lib/core.c), checked exhaustively by spin
 * (reliability/model/check.sh; docs/reliability.md, "Model check").
 *
 * What runs. One promise, two rentals. Rental 1 has version 0; its winning
 * consumer moves the version to 1 (R1) and hands the promise back to the
 * pool, and a new renter takes it (`rented2`), whose producer and awaiter
 * hold token 1. Actors (one process each):
 *
 *   P1  completer, token 0, vt__core_complete (set_result, value 1)
 *   SP  completer, token 0, status CANCELED (value 2): the second completer
 *       while rental 1 is current, the stale one once it was consumed. Its
 *       steps are also those of a canceler (vt__promise_cancel): the split
 *       claim (vt__core_claim, core.h:442-457: the same load, tests and C1
 *       CAS, seq_cst) then vt__core_publish; the split only lets other
 *       steps run between C1 and C2, which every interleaving here does
 *   A   awaiter, token 0, vt_core_on_completed with continuation K_A, which
 *       consumes (vt__core_take, token 0) and recycles the promise
 *   SA  awaiter, token 0, continuation K_SA (records that it ran): the
 *       second awaiter, or the stale one
 *   SC  consumer, token 0, vt__core_take: the second consumer, or the stale one
 *   P2  completer, token 1 (value 3), starts once the promise is rented again
 *   A2  awaiter, token 1, continuation K_A2 consumes rental 2 (token 1)
 *
 * Spin interleaves them in every order, so each token-0 misuse actor is
 * checked both as "second" (it runs while rental 1 is current) and as
 * "stale" (it runs, or finishes, while rental 2 is current). Versions are
 * 2 bits; only 0, 1, 2 occur, so the 16-bit wrap-around (a documented
 * window, docs/reliability.md) is out of scope.
 *
 * The state word is one byte: bits 0..1 version, 2..3 status, 16 COMPLETING,
 * 32 AWAITED. value, fn, fn_state and fn_ex are plain fields. Every access
 * to a shared location is one atomic step: a load, a store or a CAS (which,
 * as in C11, writes the current value back into `expected` when it fails).
 * The local work that follows an access (comparisons on the loaded value)
 * is folded into that access's step: it reads no shared memory, so where it
 * runs in the interleaving changes nothing. Memory is sequentially
 * consistent: the model checks the protocol, not the C11 orderings.
 *
 *   model step                          code (core.h unless noted)
 *   complete: relaxed load              vt__core_complete, line 180
 *             token / COMPLETING test   lines 183, 185
 *             C1 CAS +COMPLETING        line 189
 *   publish:  C2 load fn if AWAITED     vt__core_publish, line 167
 *             W2 wait for fn            lib/core.c:41 (publish_waiting, :49)
 *             load fn_state, fn_ex      vt__core_publish_run, lines 147-148
 *             store fn = NULL           line 150
 *             store value               vt__core_publish_value, line 132
 *             P store state (status)    line 137
 *             run fn inline             lines 152-155 (a post is the same
 *                                       for the core: nothing of the core is
 *                                       touched after P)
 *   await:    A0 load                   vt_core_on_completed, line 370
 *             A1 CAS +AWAITED (fast)    lines 373-376
 *             register: fn_state, fn_ex, A2 store fn
 *                                       vt__core_register, lines 352-354
 *             slow path loop            lib/core.c:90-110
 *               A0 load                 vt__core_await_claim, line 325
 *               tests, A1 CAS           lines 328-338
 *               W1 wait for P           line 341, lib/core.c:26
 *               A3 CAS +AWAITED, run fn lib/core.c:106-107
 *   consume:  load                      vt__core_take, line 280
 *             token / status tests      lines 283, 285
 *             load value                line 287
 *             R1 CAS version + 1        line 291
 *             recycle (pool return,     pool/promise.c, vt__promise_get_result
 *             next rent)
 *
 * Not modelled: the core's own executor (`ex`; configuration, read
 * unchecked before A3), vt_core_reset (the owner's act, "only when no other
 * thread still uses this version"), detach (D1/D2, take_detached) and the
 * split claim/publish of cancellation (vt__core_claim is C1 with another
 * memory order, then the same vt__core_publish), the 16-bit wrap, and weak
 * memory ordering (ThreadSanitizer and the pairing comments cover that).
 *
 * Properties (assertions; the final ones run when everything has stopped):
 *   - ABS_INV after every write of the state word: its bits are exactly
 *     the abstract state (version = rentals consumed, COMPLETING = a
 *     completer won C1, AWAITED = a continuation was claimed, status =
 *     published), so every code decided from a loaded word is the SPEC §4.1
 *     table's code for the state at that instant;
 *   - one winning completer per rental, with the current token only; only
 *     the winner writes `value`; one registration per rental, with the
 *     current token only, and only its owner writes fn / fn_state / fn_ex;
 *   - whoever loads a state with a status sees the winner's value there;
 *   - a continuation runs with its own state and executor, in its own
 *     rental, at most once, and (final check) exactly once if registered;
 *     a continuation that consumes never sees VT_EPENDING;
 *   - a rental is consumed at most once, and the winner reads the winning
 *     completer's value and status;
 *   - sequential misuse gets the exact code: a call whose first step comes
 *     after the rental moved on gets VT_ETOKEN; after another completer won,
 *     VT_ECOMPLETED; after another registration, VT_EAWAITED; a consume
 *     before completion, VT_EPENDING;
 *   - rental 2 is untouched by every token-0 actor: P2 and A2 succeed, K_A2
 *     runs once and consumes value 3;
 *   - valid end states (no deadlock), and (pan -l -f) no non-progress cycle
 *     under weak fairness: no wait spins forever.
 *
 * Mutants (spin -DMUTANT_...; check.sh expects each to fail):
 *   MUTANT_NO_C1       C1 is a plain store after the test, not a CAS
 *   MUTANT_NO_W1       an awaiter that meets COMPLETING without a status
 *                      takes the core as completed instead of waiting
 *   MUTANT_NO_W2       a completer that meets AWAITED without fn publishes
 *                      as if nobody were registered
 *   MUTANT_P_FIRST     P (the status) is stored before the value
 *   MUTANT_NO_FN_CLEAR publish_run leaves fn set for the next rental
 *   MUTANT_W1_COMPLETING  W1 waits for COMPLETING to clear instead of for
 *                      the word to change (P keeps COMPLETING): caught only
 *                      by the liveness check
 */

#define VER(x)      ((x) & 3)
#define STATUS(x)   (((x) >> 2) & 3)
#define COMPLETING  16
#define AWAITED     32
#define NEXT(x)     ((VER(x) + 1) & 3)

#define SUCCEEDED   1
#define CANCELED    3

#define ETOKEN      (-1)
#define EPENDING    (-2)
#define EAWAITED    (-3)
#define ECOMPLETED  (-4)

/* actors */
#define P1 1
#define SP 2
#define A  3
#define SA 4
#define SC 5
#define P2 6
#define A2 7

/* continuations: fn ids (0 is NULL), their state and executor are the same id */
#define K_A  1
#define K_SA 2
#define K_A2 3

/* ---- the core ------------------------------------------------------------ */

byte st;        /* vt_core.state */
byte value;     /* vt_core.value */
byte fn;        /* vt_core.fn */
byte fn_state;  /* vt_core.fn_state */
byte fn_ex;     /* vt_core.fn_ex */

bool rented2;   /* rental 1 consumed, the promise rented again */

/* ---- ghost state: the abstract history, for the assertions --------------- */

byte g_cur;          /* rentals consumed: the current version */
byte g_claimer[3];   /* per rental: the completer that won C1 */
byte g_winval[3];    /* its value */
byte g_winst[3];     /* its status */
bool g_pub[3];       /* P done */
byte g_reg[3];       /* the continuation that claimed the rental (A1 / A3) */
byte g_consumer[3];  /* who won R1 */
byte k_rental[4];    /* per continuation: its rental + 1 (0: never registered) */
byte runs[4];        /* per continuation: times it ran */
short rc_of[8];      /* per actor: what its call returned */
short krc[4];        /* per consuming continuation: what its consume returned */
byte finished;       /* actors that returned */

#define ABS_INV                                                                  \
	assert(VER(st) == g_cur &&                                               \
	       ((st & COMPLETING) != 0) == (g_claimer[g_cur] != 0) &&            \
	       ((st & AWAITED) != 0) == (g_reg[g_cur] != 0) &&                   \
	       (STATUS(st) != 0) == g_pub[g_cur] &&                              \
	       (STATUS(st) == 0 || STATUS(st) == g_winst[g_cur]))

/* Whoever loads a state with a status sees the published value. */
inline observe(x)
{
	if
	:: STATUS(x) != 0 -> assert(value == g_winval[VER(x)])
	:: else
	fi
}

/* C1 won: one completer per rental, with the current token. */
inline claim_ghost(me, token, val, status)
{
	assert(g_claimer[g_cur] == 0 && g_cur == token);
	g_claimer[g_cur] = me;
	g_winval[g_cur] = val;
	g_winst[g_cur] = status
}

/* A1 / A3 won: one registration per rental, with the current token. */
inline reg_ghost(k, token)
{
	assert(g_reg[g_cur] == 0 && g_cur == token && k_rental[k] == 0);
	g_reg[g_cur] = k;
	k_rental[k] = g_cur + 1
}

/* ---- consume: vt__core_take (core.h:278-293) ----------------------------- */

inline take(who, token, trc, snapshot)
{
	atomic {                                                      /* :280 */
		ts = st;
		observe(ts);
		if
		:: snapshot ->
			if
			:: g_cur != token -> snap = 1               /* expect VT_ETOKEN */
			:: g_cur == token && !g_pub[g_cur] -> snap = 4 /* VT_EPENDING */
			:: else -> snap = 0                         /* racing */
			fi
		:: else
		fi
	}
	do
	:: atomic { VER(ts) != token -> trc = ETOKEN; break }         /* :283 */
	:: atomic { VER(ts) == token && STATUS(ts) == 0 ->            /* :285 */
		trc = EPENDING; break }
	:: atomic { VER(ts) == token && STATUS(ts) != 0 ->            /* :287 */
		tbits = value }
		atomic {                                              /* R1, :291 */
			if
			:: st == ts ->
				st = NEXT(ts);
				assert(g_consumer[g_cur] == 0);
				assert(tbits == g_winval[g_cur] && STATUS(ts) == g_winst[g_cur]);
				g_consumer[g_cur] = who;
				g_cur++;
				ABS_INV;
				trc = STATUS(ts);
				break
			:: else -> ts = st; observe(ts)
			fi
		}
	od
}

/* The winner of rental 1's R1 hands the promise back; the next renter
 * takes it (pool/promise.c, vt__promise_recycle; the pool's ring orders it). */
inline recycle(token, trc)
{
	if
	:: trc > 0 && token == 0 -> rented2 = true
	:: else
	fi
}

/* ---- a continuation: fn(state) on executor ex ---------------------------- */

inline run_cont(k, kst, kex, rental)
{
	atomic {
		assert(kst == k && kex == k);      /* its own state and executor */
		assert(k_rental[k] == rental + 1); /* registered for this rental */
		runs[k]++;
		assert(runs[k] == 1)
	}
	if
	:: k == K_A ->
		take(K_A, 0, trc, false);
		assert(trc != EPENDING);           /* it runs after P */
		krc[K_A] = trc;
		recycle(0, trc)
	:: k == K_A2 ->
		take(K_A2, 1, trc, false);
		assert(trc != EPENDING);
		krc[K_A2] = trc
	:: k == K_SA -> skip
	fi
}

/* ---- complete: vt__core_complete and vt__core_publish (core.h:129-192) --- */

inline publish_value(me, token, val, status)
{
#ifdef MUTANT_P_FIRST
	atomic { st = s | COMPLETING | (status << 2); g_pub[g_cur] = true; ABS_INV }
	atomic { value = val }
#else
	atomic {                                                      /* :132 */
		assert(g_claimer[g_cur] == me && g_cur == token);
		value = val
	}
	atomic {                                                      /* P, :137 */
		st = s | COMPLETING | (status << 2);
		g_pub[g_cur] = true;
		ABS_INV
	}
#endif
}

proctype completer(byte me; byte token; byte val; byte status)
{
	byte s, fl, fst, fex, ts, tbits, snap;
	short rc, trc;

end_rent:
	(token == 0 || rented2);
	atomic {                                                      /* :180 */
		s = st;
		observe(s);
		if
		:: g_cur != token -> snap = 1                       /* expect VT_ETOKEN */
		:: g_cur == token && g_claimer[g_cur] != 0 -> snap = 2 /* VT_ECOMPLETED */
		:: else -> snap = 0                                 /* racing */
		fi
	}
	do
	:: atomic { VER(s) != token -> rc = ETOKEN; break }           /* :183 */
	:: atomic { VER(s) == token && (s & COMPLETING) != 0 ->       /* :185 */
		rc = ECOMPLETED; break }
#ifdef MUTANT_NO_C1
	:: atomic { VER(s) == token && (s & COMPLETING) == 0 ->
		st = s | COMPLETING;
		claim_ghost(me, token, val, status);
		rc = 0;
		break }
#else
	:: atomic { VER(s) == token && (s & COMPLETING) == 0 ->       /* C1, :189 */
		if
		:: st == s ->
			st = s | COMPLETING;
			claim_ghost(me, token, val, status);
			ABS_INV;
			rc = 0;
			break
		:: else -> s = st; observe(s)
		fi }
#endif
	od;
	if
	:: rc == 0 && (s & AWAITED) != 0 ->
		atomic { fl = fn }                                    /* C2, :167 */
		if
		:: fl == 0 ->
#ifdef MUTANT_NO_W2
			publish_value(me, token, val, status);
			goto done
#else
			do                                            /* W2, core.c:41 */
			:: atomic { fl = fn; if :: fl != 0 -> break :: else fi }
			od
#endif
		:: else
		fi;
		atomic { fst = fn_state }                             /* :147 */
		atomic { fex = fn_ex }                                /* :148 */
#ifndef MUTANT_NO_FN_CLEAR
		atomic { fn = 0 }                                     /* :150 */
#endif
		publish_value(me, token, val, status);
		run_cont(fl, fst, fex, token)                         /* :152-155 */
	:: rc == 0 && (s & AWAITED) == 0 ->
		publish_value(me, token, val, status)                 /* :174 */
	:: else
	fi;
done:
	atomic {
		/* a call that began after the rental moved on: VT_ETOKEN; after
		 * another completer won: VT_ECOMPLETED, or VT_ETOKEN if the
		 * rental was consumed while the call ran */
		assert(snap == 0 || (snap == 1 && rc == ETOKEN) ||
		       (snap == 2 && (rc == ECOMPLETED || (g_cur != token && rc == ETOKEN))));
		rc_of[me] = rc;
		finished++;
		s = 0; fl = 0; fst = 0; fex = 0; ts = 0; tbits = 0; snap = 0; rc = 0; trc = 0
	}
}

/* ---- await: vt_core_on_completed and its slow path ----------------------- */

inline register(k, token)
{
	atomic {                                                      /* :352 */
		assert(g_reg[g_cur] == k && g_cur == token);
		fn_state = k
	}
	atomic { assert(g_reg[g_cur] == k && g_cur == token); fn_ex = k }  /* :353 */
	atomic { assert(g_reg[g_cur] == k && g_cur == token); fn = k }     /* A2, :354 */
}

proctype awaiter(byte me; byte token; byte kid)
{
	byte s, seen, fst, fex, ts, tbits, snap;
	short rc, trc;
	bool ok;

end_rent:
	(token == 0 || rented2);
	atomic {                                                      /* A0, :370 */
		s = st;
		observe(s);
		if
		:: g_cur != token -> snap = 1                       /* expect VT_ETOKEN */
		:: g_cur == token && g_reg[g_cur] != 0 -> snap = 3  /* VT_EAWAITED */
		:: else -> snap = 0                                 /* racing */
		fi
	}
	atomic {                                                      /* A1, :373-376 */
		if
		:: VER(s) == token && (s & (AWAITED | COMPLETING)) == 0 ->
			if
			:: st == s ->
				st = s | AWAITED;
				reg_ghost(kid, token);
				ABS_INV;
				ok = true
			:: else -> s = st; ok = false
			fi
		:: else -> ok = false
		fi
	}
	if
	:: ok ->
		register(kid, token);                                   /* :377 */
		rc = 0
	:: else ->
		do                                                    /* core.c:90 */
		:: atomic { s = st; observe(s) }                      /* A0, :325 */
			do
			:: atomic { VER(s) != token -> rc = ETOKEN; break }       /* :328 */
			:: atomic { VER(s) == token && (s & AWAITED) != 0 ->      /* :330 */
				rc = EAWAITED; break }
			:: atomic { VER(s) == token && (s & (AWAITED | COMPLETING)) == 0 ->
				if                                        /* A1, :336 */
				:: st == s ->
					st = s | AWAITED;
					reg_ghost(kid, token);
					ABS_INV;
					rc = 0;
					break
				:: else -> s = st; observe(s)
				fi }
			:: atomic { VER(s) == token && (s & AWAITED) == 0 &&
				    (s & COMPLETING) != 0 && STATUS(s) == 0 -> seen = s }
#ifdef MUTANT_NO_W1
				rc = 1;
				break
#else
#ifdef MUTANT_W1_COMPLETING
				do
				:: atomic { s = st; observe(s); if :: (s & COMPLETING) == 0 -> break :: else fi }
				od
#else
				do                                        /* W1, :341, core.c:26 */
				:: atomic { s = st; observe(s); if :: s != seen -> break :: else fi }
				od
#endif
#endif
			:: atomic { VER(s) == token && (s & AWAITED) == 0 &&       /* :344 */
				    (s & COMPLETING) != 0 && STATUS(s) != 0 -> rc = 1; break }
			od;
			if
			:: rc == 0 ->
				register(kid, token);                       /* core.c:96 */
				break
			:: rc < 0 -> break                                /* core.c:100 */
			:: rc == 1 ->
				atomic {                                  /* A3, core.c:106 */
					if
					:: st == s ->
						st = s | AWAITED;
						reg_ghost(kid, token);
						ABS_INV;
						ok = true
					:: else -> s = st; ok = false
					fi
				}
				if
				:: ok ->
					fst = kid; fex = kid;
					run_cont(kid, fst, fex, token);         /* core.c:107 */
					rc = 0;
					break
				:: else
				fi
			fi
		od
	fi;
	atomic {
		/* the same for a registration that found another one */
		assert(snap == 0 || (snap == 1 && rc == ETOKEN) ||
		       (snap == 3 && (rc == EAWAITED || (g_cur != token && rc == ETOKEN))));
		rc_of[me] = rc;
		finished++;
		s = 0; seen = 0; fst = 0; fex = 0; ts = 0; tbits = 0; snap = 0; rc = 0; trc = 0; ok = false
	}
}

/* ---- consume: the second or stale consumer ------------------------------- */

proctype consumer(byte me; byte token)
{
	byte ts, tbits, snap;
	short rc;

	take(me, token, rc, true);
	recycle(token, rc);
	atomic {
		assert(snap == 0 || (snap == 1 && rc == ETOKEN) || (snap == 4 && rc == EPENDING));
		rc_of[me] = rc;
		finished++;
		ts = 0; tbits = 0; snap = 0; rc = 0
	}
}

/* ---- the run and its final checks ---------------------------------------- */

#ifdef NO_SP
#define HAS_SP 0
#else
#define HAS_SP 1
#endif
#ifdef NO_SA
#define HAS_SA 0
#else
#define HAS_SA 1
#endif
#ifdef NO_SC
#define HAS_SC 0
#else
#define HAS_SC 1
#endif

init
{
	atomic {
		run completer(P1, 0, 1, SUCCEEDED);
#if HAS_SP
		run completer(SP, 0, 2, CANCELED);
#endif
		run awaiter(A, 0, K_A);
#if HAS_SA
		run awaiter(SA, 0, K_SA);
#endif
#if HAS_SC
		run consumer(SC, 0);
#endif
		run completer(P2, 1, 3, SUCCEEDED);
		run awaiter(A2, 1, K_A2)
	}
	timeout ->
	atomic {
		/* everyone that could run returned (rental 2's actors only run
		 * once it was rented) */
		assert(finished == 2 + HAS_SP + HAS_SA + HAS_SC + (rented2 -> 2 : 0));
		/* rental 1: exactly one of its completers won; the other got a
		 * misuse code */
#if HAS_SP
		assert((rc_of[P1] == 0) + (rc_of[SP] == 0) == 1);
		assert(rc_of[SP] == 0 || rc_of[SP] == ECOMPLETED || rc_of[SP] == ETOKEN);
#else
		assert(rc_of[P1] == 0);
#endif
		assert(rc_of[P1] == 0 || rc_of[P1] == ECOMPLETED || rc_of[P1] == ETOKEN);
		assert(g_pub[0]);
		/* every registered continuation ran exactly once (every rental
		 * that starts is completed) */
		assert(runs[K_A] == (k_rental[K_A] != 0 -> 1 : 0));
		assert(runs[K_SA] == (k_rental[K_SA] != 0 -> 1 : 0));
		assert(runs[K_A2] == (k_rental[K_A2] != 0 -> 1 : 0));
		/* at most one registration on rental 1 */
		assert(rc_of[A] == 0 || rc_of[A] == EAWAITED || rc_of[A] == ETOKEN);
#if HAS_SA
		assert((rc_of[A] == 0) + (rc_of[SA] == 0) <= 1);
		assert(rc_of[SA] == 0 || rc_of[SA] == EAWAITED || rc_of[SA] == ETOKEN);
#else
		assert(rc_of[A] == 0 || rc_of[A] == ETOKEN); /* ETOKEN: SC consumed first */
#endif
		/* rental 2: no token-0 actor changed it */
		if
		:: rented2 ->
			assert(rc_of[P2] == 0 && rc_of[A2] == 0);
			assert(k_rental[K_A2] == 2 && runs[K_A2] == 1);
			assert(krc[K_A2] == SUCCEEDED && g_consumer[1] == K_A2);
			assert(g_claimer[1] == P2 && g_winval[1] == 3 && g_reg[1] == K_A2);
			assert(st == 2)
		:: else ->
			assert(g_consumer[0] == 0 && VER(st) == 0)
		fi
	}
}

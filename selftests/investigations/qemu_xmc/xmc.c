// SPDX-License-Identifier: GPL-2.0
/*
 * Cross-modifying code check for an x86_64 guest (user space, static):
 * does the machine run the code a CPU rewrote, once the writer published
 * the write and the reader serialized? x86 promises it (Intel SDM vol. 3,
 * "Handling Cross-Modifying Code": the writer stores the code and sets a
 * flag; the executing CPU waits for the flag, runs CPUID, then runs the
 * code). The kernel's kprobe removal rests on the same rule: it restores
 * the probed byte, serializes every CPU by IPI, and only then forgets the
 * probe, so no CPU can trap on the old int3 afterwards.
 *
 * One writer thread rewrites the imm32 of f() = "mov eax, imm; ret" with
 * 1, 2, 3, ... (one aligned 4-byte store each) and publishes each value in
 * `epoch` (release); after each write it waits until every reader has seen
 * that epoch. NR_READERS
 * threads call f() without pause: read epoch e (acquire), CPUID, r = f().
 * The writer is at most one value ahead of what a reader acknowledged, so
 * r must be e or e + 1; anything else ran code older than a write the
 * reader had already seen published: a stale translation.
 *
 *   xmc SECONDS   prints "xmc: writes=W calls=C stale=S persisted=P
 *                 stale_pairs=N" and exits 1 if S > 0
 * P counts stale results that the next call, after another CPUID, gave
 * again; N the (write, reader) pairs in which the reader ran code older
 * than that write.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define NR_READERS 3

static unsigned char *code;
static unsigned int epoch;		/* the last value written, published */
static unsigned int ack[NR_READERS];	/* the last epoch each reader saw */
static unsigned int stale_at[NR_READERS];	/* the epoch of its last stale run */
static int stop;
static unsigned long calls[NR_READERS], stale[NR_READERS], persisted[NR_READERS];
static unsigned long stale_pairs;

static void serialize(void)
{
	unsigned int a, b, c, d;

	__cpuid(0, a, b, c, d);
	(void)a; (void)b; (void)c; (void)d;
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static void *reader(void *arg)
{
	long me = (long)arg;
	unsigned int (*f)(void) = (unsigned int (*)(void))code;

	pin(me + 1);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int e = __atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
		unsigned int r;

		serialize();
		r = f();
		calls[me]++;
		if (r != e && r != e + 1) {
			stale[me]++;
			if (stale_at[me] != e) {
				stale_at[me] = e;
				__atomic_fetch_add(&stale_pairs, 1, __ATOMIC_RELAXED);
			}
			serialize();
			if (f() == r)
				persisted[me]++;
		}
		if (ack[me] != e)
			__atomic_store_n(&ack[me], e, __ATOMIC_RELEASE);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	/* nop; nop; nop; mov eax, 0; ret: the imm32 aligned, one store */
	static const unsigned char f[] = { 0x90, 0x90, 0x90, 0xb8, 0, 0, 0, 0, 0xc3 };
	int secs = argc > 1 ? atoi(argv[1]) : 30;
	unsigned long writes = 0, c = 0, s = 0, p = 0;
	pthread_t t[NR_READERS];
	unsigned int v = 0;
	time_t end;
	long i;

	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		perror("xmc: mmap");
		return 2;
	}
	memcpy(code, f, sizeof(f));
	pin(0);
	for (i = 0; i < NR_READERS; i++)
		pthread_create(&t[i], NULL, reader, (void *)i);
	end = time(NULL) + secs;
	while (time(NULL) < end) {
		v++;
		__atomic_store_n((unsigned int *)(code + 4), v, __ATOMIC_RELAXED);
		__atomic_store_n(&epoch, v, __ATOMIC_RELEASE);
		for (i = 0; i < NR_READERS; i++)
			while (__atomic_load_n(&ack[i], __ATOMIC_ACQUIRE) != v && time(NULL) < end + 5)
				;
		writes++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NR_READERS; i++) {
		pthread_join(t[i], NULL);
		c += calls[i];
		s += stale[i];
		p += persisted[i];
	}
	printf("xmc: writes=%lu calls=%lu stale=%lu persisted=%lu stale_pairs=%lu\n",
	       writes, c, s, p, stale_pairs);
	return s ? 1 : 0;
}

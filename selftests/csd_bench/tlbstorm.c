// SPDX-License-Identifier: GPL-2.0
/*
 * tlbstorm: a user program heavy in TLB shootdowns (selftests/harness/bench.sh).
 *
 *   tlbstorm MS [CPUS]
 *
 * Threads pinned to CPUs 1..CPUS-1 (default: all online CPUs) spin in user
 * space on shared memory, so the process's mm is live on them; the main
 * thread, pinned to CPU 0, maps 4 pages, touches them, mprotects them
 * read-only and unmaps them, in a loop for MS milliseconds. Each mprotect
 * and munmap of present pages flushes the other CPUs' TLBs with a
 * synchronous cross-call (flush_tlb_mm_range -> on_each_cpu_cond_mask on
 * x86, a broadcast TLBI or an IPI on arm64). Prints the loop count and
 * the time per loop.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;
static volatile unsigned long shared[64];

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s)) {
		perror("sched_setaffinity");
		exit(1);
	}
}

static void *spinner(void *arg)
{
	int cpu = (int)(long)arg;

	pin(cpu);
	while (!stop)
		shared[cpu * 8 % 64]++;
	return NULL;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 2000;
	int cpus = argc > 2 ? atoi(argv[2]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
	size_t len = 4 * (size_t)sysconf(_SC_PAGESIZE);
	pthread_t t[64];
	unsigned long long t0, end, loops = 0;
	int i;

	if (ms <= 0 || cpus < 2 || cpus > 64) {
		fprintf(stderr, "usage: tlbstorm MS [CPUS 2..64]\n");
		return 2;
	}
	pin(0);
	for (i = 1; i < cpus; i++)
		pthread_create(&t[i], NULL, spinner, (void *)(long)i);
	usleep(100000);		/* the spinners are on their CPUs */
	t0 = now_ns();
	end = t0 + ms * 1000000ull;
	while (now_ns() < end) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		for (size_t o = 0; o < len; o += 64)
			p[o] = 1;
		mprotect(p, len, PROT_READ);
		munmap(p, len);
		loops++;
	}
	end = now_ns();
	stop = 1;
	for (i = 1; i < cpus; i++)
		pthread_join(t[i], NULL);
	printf("tlbstorm: loops=%llu ns_per_loop=%llu\n", loops, (end - t0) / (loops ? loops : 1));
	return 0;
}

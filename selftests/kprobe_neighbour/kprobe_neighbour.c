// SPDX-License-Identifier: GPL-2.0
/*
 * kprobe_neighbour: another kprobe user at csdwatch's probe sites, as a
 * debugging module, systemtap or another watchdog would be. Loaded beside
 * csdwatch by selftests/csdwatch/kprobe_neighbour.sh, which unloads the
 * two in both orders and checks that nothing stays armed and nothing runs
 * a freed handler.
 *
 *   post=1     give every probe a post_handler (the case that trips the
 *              kprobes-on-ftrace bug, rust/shim.c explains it)
 *   control=1  no csdwatch: the bug itself, on a function of this module.
 *              A probe without a post_handler, then one with, at the same
 *              place; both unregistered again. On a kernel with the bug
 *              the first stays armed (its handler runs on a call made
 *              after, and it is still listed in debugfs kprobes/list);
 *              the module then pins itself, so that the handler that
 *              stays armed is never freed.
 */
#include <linux/module.h>
#include <linux/kprobes.h>
#include <linux/atomic.h>
#include <linux/version.h>

static bool post;
module_param(post, bool, 0444);
static bool control;
module_param(control, bool, 0444);
/* probes registered, and their hits (read by the test) */
static int registered;
module_param(registered, int, 0444);
static atomic_t hits = ATOMIC_INIT(0);
static int hits_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&hits));
}
static const struct kernel_param_ops hits_ops = { .get = hits_get };
module_param_cb(hits, &hits_ops, NULL, 0444);

/* csdwatch's probe sites (rust/shim.c, rust/arch/<arch>.c) */
static const char *const sites[] = {
	"__flush_smp_call_function_queue",
	"__smp_call_single_queue",
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	"__smp_call_function_single",
#else
	"smp_call_function_single",
#endif
	"smp_call_function_many_cond",
	"sched_tick",
#ifdef CONFIG_X86
	"native_send_call_func_single_ipi",
	"native_send_call_func_ipi",
#else
	"arch_send_call_function_single_ipi",
	"arch_send_call_function_ipi_mask",
#endif
};
static struct kprobe kps[ARRAY_SIZE(sites)];

static int nb_pre(struct kprobe *p, struct pt_regs *regs)
{
	atomic_inc(&hits);
	return 0;
}

static void nb_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

/* control: a function of this module the two probes sit on */
static int nb_sink;
static noinline int nb_site(int x)
{
	barrier();	/* a real call, not one the compiler may drop */
	return x + 1;
}

static int nb_control(void)
{
	static struct kprobe a, b;	/* static: the kernel may keep them */
	int ret, before;

	a = (struct kprobe){ .addr = (kprobe_opcode_t *)nb_site, .pre_handler = nb_pre };
	b = (struct kprobe){ .addr = (kprobe_opcode_t *)nb_site, .pre_handler = nb_pre,
			     .post_handler = nb_post };
	ret = register_kprobe(&a);
	if (ret)
		return ret;
	pr_info("kprobe_neighbour: control: probe A (no post_handler) at %pS%s\n", a.addr,
		a.flags & KPROBE_FLAG_FTRACE ? ", ftrace-based" : "");
	ret = register_kprobe(&b);
	if (ret) {
		unregister_kprobe(&a);
		return ret;
	}
	WRITE_ONCE(nb_sink, nb_site(1));
	unregister_kprobe(&b);
	pr_info("kprobe_neighbour: control: B (post_handler) unregistered, %d hits\n",
		atomic_read(&hits));
	WRITE_ONCE(nb_sink, nb_site(2));
	unregister_kprobe(&a);
	before = atomic_read(&hits);
	WRITE_ONCE(nb_sink, nb_site(3));
	/* whatever the kernel kept armed must not outlive this module's
	 * memory, so the module stays; the test reads the list too */
	__module_get(THIS_MODULE);
	pr_info("kprobe_neighbour: control: A and B unregistered; a call after that %s; the module stays loaded\n",
		atomic_read(&hits) != before ? "still ran A's handler" : "ran no handler");
	return 0;
}

static int __init nb_init(void)
{
	size_t i;
	int ret;

	if (control)
		return nb_control();
	for (i = 0; i < ARRAY_SIZE(sites); i++) {
		kps[i].symbol_name = sites[i];
		kps[i].pre_handler = nb_pre;
		if (post)
			kps[i].post_handler = nb_post;
		ret = register_kprobe(&kps[i]);
		if (ret) {
			pr_info("kprobe_neighbour: %s: not probed (%d)\n", sites[i], ret);
			kps[i].symbol_name = NULL;
			continue;
		}
		registered++;
	}
	pr_info("kprobe_neighbour: %d of %zu sites probed%s\n", registered, ARRAY_SIZE(sites),
		post ? ", with post_handler" : "");
	return registered ? 0 : -ENOENT;
}

static void __exit nb_exit(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sites); i++)
		if (kps[i].symbol_name)
			unregister_kprobe(&kps[i]);
}

module_init(nb_init);
module_exit(nb_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Another kprobe user at csdwatch's probe sites (test module)");

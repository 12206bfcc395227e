/* Tests for the overlay fast path: byte-identical to the walking differ on real overlay layers. */
#include "core/diff/compare.h"
#include "core/diff/mounts.h"
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

/* base/{lower,layer,work,merged,view}: the layer is written through merged, read through view. */
struct fixture {
    char *base, *lower, *layer, *work, *merged, *view;
    bool userxattr;
};

static char *sub(const char *base, const char *name)
{
    char *p = xasprintf("%s/%s", base, name);
    assert_int_equal(mkdir(p, 0755), 0);
    return p;
}

static int setup(void **state)
{
    if (geteuid() != 0)
        return 0;
    struct fixture *f = xcalloc(1, sizeof(*f));
    f->base = test_mkdtemp("compare-overlay");
    f->lower = sub(f->base, "lower");
    f->layer = sub(f->base, "layer");
    f->work = sub(f->base, "work");
    f->merged = sub(f->base, "merged");
    f->view = sub(f->base, "view");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    umount2(f->merged, MNT_DETACH);
    umount2(f->view, MNT_DETACH);
    test_rm_rf(f->base);
    free(f->base);
    free(f->lower);
    free(f->layer);
    free(f->work);
    free(f->merged);
    free(f->view);
    free(f);
    return 0;
}

static char *at(const char *root, const char *rel)
{
    return xasprintf("%s/%s", root, rel);
}

static void put(const char *root, const char *rel, const char *data, time_t mtime)
{
    _cleanup_free_ char *path = at(root, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
    if (mtime) {
        struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
        assert_int_equal(utimes(path, tv), 0);
    }
}

static void mkd(const char *root, const char *rel, time_t mtime)
{
    _cleanup_free_ char *path = at(root, rel);
    assert_int_equal(mkdir(path, 0755), 0);
    if (mtime) {
        struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
        assert_int_equal(utimes(path, tv), 0);
    }
}

static void rm(const char *root, const char *rel)
{
    _cleanup_free_ char *path = at(root, rel);
    test_rm_rf(path);
}

static void hardlink(const char *root, const char *from, const char *to)
{
    _cleanup_free_ char *a = at(root, from);
    _cleanup_free_ char *b = at(root, to);
    assert_int_equal(link(a, b), 0);
}

/* Mounts layer over lower on merged (rw), or read-only as a view. 0, or -1 when not supported. */
static int mount_overlay(struct fixture *f, bool rw)
{
    _cleanup_free_ char *opts =
        rw ? xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=off%s", f->lower, f->layer,
                       f->work, f->userxattr ? ",userxattr" : "")
           : xasprintf("lowerdir=%s:%s%s", f->layer, f->lower, f->userxattr ? ",userxattr" : "");
    if (mount("overlay", rw ? f->merged : f->view, "overlay", rw ? 0 : MS_RDONLY, opts) < 0)
        return -1;
    return 0;
}

static int collect(void *opaque, const void *data, size_t len, struct berth_error **err)
{
    (void)err;
    test_buf_append(opaque, data, len);
    return 0;
}

/* A lower tree with a bit of everything; mtimes whole seconds as layers extract them. */
static void build_lower(const char *l)
{
    mkd(l, "etc", 0);
    put(l, "etc/keep", "same", 1000);
    put(l, "etc/gone", "x", 1000);
    put(l, "etc/touched", "same data", 1000);
    put(l, "etc/linked", "linked", 1000);
    hardlink(l, "etc/linked", "etc/linked2");
    put(l, "etc/renamed-from", "r", 1000);
    mkd(l, "opaque", 0);
    put(l, "opaque/a", "a", 1000);
    put(l, "opaque/b", "b", 1000);
    mkd(l, "opaque/sub", 0);
    put(l, "opaque/sub/c", "c", 1000);
    mkd(l, "deldir", 0);
    put(l, "deldir/x", "x", 1000);
    mkd(l, "modes", 0);
    put(l, "modes/f", "f", 1000);
    put(l, "cap", "cap", 1000);
    mkd(l, "untouched", 0);
    mkd(l, "untouched/deep", 0);
    put(l, "untouched/deep/f", "f", 1000);
    mkd(l, "churn", 0);
    put(l, "churn/stay", "s", 1000);
    struct timeval tv[2] = {{1000, 0}, {1000, 0}};
    const char *dirs[] = {"etc",       "opaque",         "opaque/sub", "deldir", "modes",
                          "untouched", "untouched/deep", "churn",      ""};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        _cleanup_free_ char *p = at(l, dirs[i]);
        assert_int_equal(utimes(p, tv), 0);
    }
}

/* Changes made through the overlay, so the layer holds what the kernel writes. */
static void change(const char *m)
{
    put(m, "etc/new", "n", 2000);
    put(m, "etc/keep", "diff", 1000); /* same size and second: content decides */
    rm(m, "etc/gone");
    /* opened for writing, not changed: copied up with the same data and times */
    _cleanup_free_ char *touched = at(m, "etc/touched");
    int fd = open(touched, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    close(fd);
    hardlink(m, "etc/linked", "etc/linked3"); /* copy-up of one name of a lower hardlink pair */
    _cleanup_free_ char *from = at(m, "etc/renamed-from");
    _cleanup_free_ char *to = at(m, "etc/renamed-to");
    assert_int_equal(rename(from, to), 0);
    /* a replaced directory: the layer marks it opaque */
    rm(m, "opaque");
    mkd(m, "opaque", 1000);
    put(m, "opaque/a", "a", 1000); /* same as lower: unmodified even though opaque */
    put(m, "opaque/new", "new", 3000);
    mkd(m, "opaque/sub", 1000); /* lower's opaque/sub/c is hidden: deleted */
    rm(m, "deldir");
    _cleanup_free_ char *modes = at(m, "modes");
    assert_int_equal(chmod(modes, 0700), 0);
    _cleanup_free_ char *mf = at(m, "modes/f");
    assert_int_equal(chown(mf, 5, 6), 0);
    /* a capability (v2, no effective bit): copy-up carries it */
    static const unsigned char cap[20] = {0, 0, 0, 2, 0x00, 0x20};
    _cleanup_free_ char *capf = at(m, "cap");
    assert_int_equal(setxattr(capf, "security.capability", cap, sizeof(cap), 0), 0);
    mkd(m, "newdir", 4000);
    mkd(m, "newdir/sub", 4000);
    put(m, "newdir/sub/file", "deep", 4000);
    _cleanup_free_ char *sl = at(m, "newdir/link");
    assert_int_equal(symlink("../etc/keep", sl), 0);
    _cleanup_free_ char *fifo = at(m, "newdir/fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    put(m, "newdir/a", "hard", 4000);
    hardlink(m, "newdir/a", "newdir/b");
    mkd(m,
        "a-very-long-directory-name-to-go-beyond-the-hundred-byte-ustar-name-field-of-tar-"
        "headers",
        4000);
    put(m,
        "a-very-long-directory-name-to-go-beyond-the-hundred-byte-ustar-name-field-of-tar-"
        "headers/and-a-long-file-name-too-so-it-needs-pax",
        "long", 4000);
    /* created and deleted again: the directory is copied up but nothing in it changed */
    put(m, "churn/tmp", "t", 0);
    rm(m, "churn/tmp");
}

static void compare_both(struct fixture *f, bool gzip, struct test_buf *walked,
                         struct test_buf *fast)
{
    struct compare_options opts = {.gzip = gzip};
    struct compare_result rw, rf;
    struct berth_error *err = NULL;
    if (diff_compare(f->lower, f->view, &opts, collect, walked, &rw, &err) < 0)
        fail_msg("walking: %s", err->message);
    bool fallback = true;
    if (diff_compare_overlay(f->lower, f->layer, f->userxattr, &opts, collect, fast, &rf, &fallback,
                             &err) < 0)
        fail_msg("overlay: %s", err->message);
    assert_false(fallback);
    assert_int_equal(walked->len, fast->len);
    assert_memory_equal(walked->data, fast->data, walked->len);
    assert_string_equal(rw.digest, rf.digest);
    assert_string_equal(rw.uncompressed_digest, rf.uncompressed_digest);
    assert_int_equal(rw.entries, rf.entries);
}

static bool prepare(struct fixture *f)
{
    build_lower(f->lower);
    if (mount_overlay(f, true) < 0) {
        if (f->userxattr)
            return false; /* kernels before 5.11 have no userxattr */
        fail_msg("mount overlay: %s", strerror(errno));
    }
    change(f->merged);
    assert_int_equal(umount(f->merged), 0);
    assert_int_equal(mount_overlay(f, false), 0);
    return true;
}

static void check_fast_equals_walking(struct fixture *f)
{
    if (!prepare(f)) {
        skip();
        return;
    }
    /* the layer really has the markers this path translates */
    _cleanup_free_ char *wh = at(f->layer, "etc/gone");
    struct stat st;
    assert_int_equal(lstat(wh, &st), 0);
    assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
    _cleanup_free_ char *op = at(f->layer, "opaque");
    char v[4] = "";
    assert_int_equal(
        lgetxattr(op, f->userxattr ? "user.overlay.opaque" : "trusted.overlay.opaque", v, 4), 1);
    assert_int_equal(v[0], 'y');

    struct test_buf walked = {0}, fast = {0};
    compare_both(f, false, &walked, &fast);
    /* spot checks on what both wrote */
    const char *tar = (const char *)walked.data;
    bool wh_gone = false, wh_sub_c = false, touched = false, churn = false, untouched = false,
         wh_renamed = false, linked3 = false;
    for (size_t off = 0; off + 512 <= walked.len; off += 512) {
        const char *name = tar + off;
        wh_gone |= strncmp(name, "etc/.wh.gone", 100) == 0;
        wh_sub_c |= strncmp(name, "opaque/sub/.wh.c", 100) == 0;
        wh_renamed |= strncmp(name, "etc/.wh.renamed-from", 100) == 0;
        linked3 |= strncmp(name, "etc/linked3", 100) == 0;
        touched |= strncmp(name, "etc/touched", 100) == 0;
        churn |= strncmp(name, "churn/", 6) == 0;
        untouched |= strncmp(name, "untouched/", 10) == 0;
    }
    assert_true(wh_gone && wh_sub_c && wh_renamed && linked3);
    assert_false(touched || churn || untouched);
    assert_null(memmem(walked.data, walked.len, ".wh..wh..opq", 12));
    free(walked.data);
    free(fast.data);
    memset(&walked, 0, sizeof(walked));
    memset(&fast, 0, sizeof(fast));
    compare_both(f, true, &walked, &fast);
    free(walked.data);
    free(fast.data);
}

static void test_trusted(void **state)
{
    if (geteuid() != 0) {
        skip();
        return;
    }
    check_fast_equals_walking(*state);
}

static void test_userxattr(void **state)
{
    if (geteuid() != 0) {
        skip();
        return;
    }
    struct fixture *f = *state;
    f->userxattr = true;
    check_fast_equals_walking(f);
}

/* A redirected directory holds part of its tree only: the fast path says so and writes nothing
 * the caller keeps. */
static void test_redirect_falls_back(void **state)
{
    if (geteuid() != 0) {
        skip();
        return;
    }
    struct fixture *f = *state;
    prepare(f);
    _cleanup_free_ char *d = at(f->layer, "newdir");
    assert_int_equal(setxattr(d, "trusted.overlay.redirect", "/x", 2, 0), 0);
    struct test_buf out = {0};
    struct compare_result r;
    bool fallback = false;
    struct berth_error *err = NULL;
    assert_int_equal(
        diff_compare_overlay(f->lower, f->layer, false, NULL, collect, &out, &r, &fallback, &err),
        -1);
    assert_true(fallback);
    assert_int_equal(err->kind, ERR_NOT_IMPLEMENTED);
    assert_non_null(strstr(err->message, "redirected"));
    err_free(err);
    free(out.data);
    /* a plain failure is not a fallback */
    fallback = true;
    err = NULL;
    assert_int_equal(diff_compare_overlay(f->lower, "/nonexistent-layer", false, NULL, collect,
                                          &out, &r, &fallback, &err),
                     -1);
    assert_false(fallback);
    err_free(err);
}

static void test_plan(void **state)
{
    (void)state;
    const char *up_opts[] = {"index=off", "workdir=/s/3/work", "upperdir=/s/3/fs",
                             "lowerdir=/s/2/fs:/s/1/fs", "userxattr"};
    const char *view_opts[] = {"lowerdir=/s/2/fs:/s/1/fs"};
    const char *bind_opts[] = {"ro", "rbind"};
    struct diff_mount upper = {.type = "overlay",
                               .source = "overlay",
                               .options = up_opts,
                               .n_options = ARRAY_SIZE(up_opts)};
    struct diff_mount lower = {
        .type = "overlay", .source = "overlay", .options = view_opts, .n_options = 1};
    struct overlay_diff_plan plan;
    assert_true(diff_overlay_plan(&lower, 1, &upper, 1, &plan));
    assert_string_equal(plan.layer, "/s/3/fs");
    assert_true(plan.userxattr);
    overlay_diff_plan_clear(&plan);

    /* a committed snapshot's view over its single-layer parent's bind mount */
    const char *top_view[] = {"lowerdir=/s/2/fs:/s/1/fs"};
    struct diff_mount top = {
        .type = "overlay", .source = "overlay", .options = top_view, .n_options = 1};
    struct diff_mount bind = {
        .type = "bind", .source = "/s/1/fs", .options = bind_opts, .n_options = 2};
    assert_true(diff_overlay_plan(&bind, 1, &top, 1, &plan));
    assert_string_equal(plan.layer, "/s/2/fs");
    assert_false(plan.userxattr);
    overlay_diff_plan_clear(&plan);

    /* not one layer apart, other parents, other mounts: no */
    assert_false(diff_overlay_plan(&bind, 1, &upper, 1, &plan));
    struct diff_mount other = bind;
    other.source = "/s/9/fs";
    assert_false(diff_overlay_plan(&other, 1, &top, 1, &plan));
    assert_false(diff_overlay_plan(&lower, 1, &bind, 1, &plan));
    assert_false(diff_overlay_plan(NULL, 0, &upper, 1, &plan));
    struct diff_mount two[2] = {lower, lower};
    assert_false(diff_overlay_plan(two, 2, &upper, 1, &plan));
    const char *meta[] = {"upperdir=/s/3/fs", "lowerdir=/s/2/fs:/s/1/fs", "metacopy=on"};
    struct diff_mount m = {.type = "overlay", .options = meta, .n_options = 3};
    assert_false(diff_overlay_plan(&lower, 1, &m, 1, &plan));
    const char *esc[] = {"upperdir=/s/3/fs", "lowerdir=/s/2\\:x/fs:/s/1/fs"};
    m = (struct diff_mount){.type = "overlay", .options = esc, .n_options = 2};
    assert_false(diff_overlay_plan(&lower, 1, &m, 1, &plan));
    const char *rel[] = {"upperdir=fs", "lowerdir=/s/2/fs:/s/1/fs"};
    m = (struct diff_mount){.type = "overlay", .options = rel, .n_options = 2};
    assert_false(diff_overlay_plan(&lower, 1, &m, 1, &plan));
    assert_null(plan.layer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_userxattr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_falls_back, setup, teardown),
        cmocka_unit_test(test_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_cpu.c - lg_cpu_has (src/core/cpu.c), which reads the dynamic
 * loader's table instead of running CPUID, gives the answers of GCC's own
 * probe (__builtin_cpu_supports: CPUID and XGETBV, linked into this test
 * only), and the two SIMD copies of lg_dot agree with a plain sum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "logify/common.h"
#include "logify/knn.h"

static void test_matches_gcc_probe(void **state) {
    (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f");
    int vnni = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
    assert_int_equal(lg_cpu_has(LG_CPU_AVX2_FMA), avx2);
    assert_int_equal(lg_cpu_has(LG_CPU_AVX512F), avx512);
    assert_int_equal(lg_cpu_has(LG_CPU_AVX512VNNI), vnni);
#else
    assert_int_equal(lg_cpu_has(LG_CPU_AVX2_FMA), 0);
    assert_int_equal(lg_cpu_has(LG_CPU_AVX512F), 0);
    assert_int_equal(lg_cpu_has(LG_CPU_AVX512VNNI), 0);
#endif
}

static void test_dot(void **state) {
    (void)state;
    float a[37], b[37];
    double want = 0;
    for (int i = 0; i < 37; i++) {
        a[i] = (float)(i % 7) - 3.0f;
        b[i] = 0.5f * (float)(i % 5);
        want += (double)a[i] * b[i];
    }
    for (int rep = 0; rep < 2; rep++) /* the first call picks the copy, the second uses it */
        assert_true(fabs(lg_dot(a, b, 37) - want) < 1e-4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_gcc_probe),
        cmocka_unit_test(test_dot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

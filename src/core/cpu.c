/* cpu.c - which vector instructions this machine runs (lg_cpu_has), read
 * from what the dynamic loader already found out, without a CPUID.
 *
 * Why not __builtin_cpu_supports or target_clones: both pull libgcc's
 * __cpu_indicator_init, a constructor that runs 12 CPUID instructions at
 * every start of the process, whatever the command. Under a hypervisor
 * each CPUID traps to it; on the KVM guest of docs/templates.md
 * ("Start-up") one costs ~7.6 us, so those 12 were ~0.09 ms of every run,
 * a tenth of the small-file budget of `logify templates`. glibc's
 * <sys/platform/x86.h> (2.33+) answers from the loader's own table. */
#include "logify/common.h"

#if defined(__x86_64__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <sys/platform/x86.h>
#define HAVE_PLATFORM_X86 1
#endif

int lg_cpu_has(lg_cpu_feature f) {
#if defined(HAVE_PLATFORM_X86)
    switch (f) {
    case LG_CPU_AVX2_FMA: return CPU_FEATURE_ACTIVE(AVX2) && CPU_FEATURE_ACTIVE(FMA);
    case LG_CPU_AVX512F:
        return CPU_FEATURE_ACTIVE(AVX512F) && CPU_FEATURE_ACTIVE(AVX2) && CPU_FEATURE_ACTIVE(FMA);
    case LG_CPU_AVX512VNNI:
        return CPU_FEATURE_ACTIVE(AVX512F) && CPU_FEATURE_ACTIVE(AVX512BW) &&
               CPU_FEATURE_ACTIVE(AVX512_VNNI) && CPU_FEATURE_ACTIVE(AVX2);
    }
#elif defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    switch (f) {
    case LG_CPU_AVX2_FMA: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case LG_CPU_AVX512F:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
    case LG_CPU_AVX512VNNI:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2");
    }
#else
    (void)f;
#endif
    return 0;
}

/*
 * dlopen-deps.c - a program that links the shared libraries logify loads
 * with dlopen (include/logify/dynlib.h), built beside logify and never
 * installed: scripts/make-deb.sh runs dpkg-shlibdeps on it with logify, so
 * the .deb's Depends names their packages too (a dlopen is invisible to
 * dpkg-shlibdeps). Keep it in step with the sonames in src/core/dynlib_*.c;
 * tests/e2e/deploy.sh checks that each of them is in Depends.
 */
#include <cblas.h>
#include <csv.h>
#include <lbfgs.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <hs/hs.h>
#include <microhttpd.h>
#include <stdio.h>
#include <utf8proc.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

int main(void) {
    printf("%s\n%s\n%s\n%s\n%d\n", curl_version(), MHD_get_version(), rd_kafka_version_str(),
           hs_version(), openblas_get_num_threads());
    lbfgs_parameter_t p;
    lbfgs_parameter_init(&p);
    printf("%s %d %s %s %d\n", csv_strerror(0), p.m, yaml_get_version_string(), utf8proc_version(),
           pcre2_config(PCRE2_CONFIG_JIT, NULL));
    return 0;
}

/*
 * dynlib_libs.c - the ten libraries loaded on first use (logify/dynlib.h):
 * for each, its soname, the Debian package that ships it, what needs it (for
 * the error when it is missing), and how its functions are named, with the
 * table of logify/dynlib_<name>.h that LG_DYNLIB_DEFINE fills.
 */
#include "logify/dynlib.h"
#include "logify/dynlib_blas.h"
#include "logify/dynlib_curl.h"
#include "logify/dynlib_hs.h"
#include "logify/dynlib_kafka.h"
#include "logify/dynlib_lbfgs.h"
#include "logify/dynlib_libcsv.h"
#include "logify/dynlib_mhd.h"
#include "logify/dynlib_pcre2.h"
#include "logify/dynlib_utf8proc.h"
#include "logify/dynlib_yaml.h"

LG_DYNLIB_DEFINE(blas, LG_BLAS_FUNCTIONS, "", "", "libopenblas.so.0", "libopenblas0",
                 "the BERT encoder (embed, and train or classify with a BERT model) "
                 "and logify cluster")

LG_DYNLIB_DEFINE(curl, LG_CURL_FUNCTIONS, "curl_", "", "libcurl.so.4", "libcurl4",
                 "the LLM stage (llm: in the config) and logify model pull")

LG_DYNLIB_DEFINE(hs, LG_HS_FUNCTIONS, "hs_", "", "libhs.so.5", "libvectorscan5",
                 "the rules stage (classify, eval, train, serve, rules check)")

LG_DYNLIB_DEFINE(kafka, LG_KAFKA_FUNCTIONS, "rd_kafka_", "", "librdkafka.so.1", "librdkafka1",
                 "logify kafka")

/* lbfgs() itself is the member `run` */
LG_DYNLIB_DEFINE(lbfgs, LG_LBFGS_FUNCTIONS, "lbfgs_", "", "liblbfgs.so.0", "liblbfgs0",
                 "training the logistic regression (logify train, the head of a BERT model)",
                 if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "lbfgs", &t->run, err);)

LG_DYNLIB_DEFINE(libcsv, LG_LIBCSV_FUNCTIONS, "csv_", "", "libcsv.so.3", "libcsv3",
                 "the CSV reader's libcsv engine (LG_CSV_LIBCSV)")

LG_DYNLIB_DEFINE(mhd, LG_MHD_FUNCTIONS, "MHD_", "", "libmicrohttpd.so.12", "libmicrohttpd12",
                 "logify serve and the metrics endpoint of logify kafka")

LG_DYNLIB_DEFINE(pcre2, LG_PCRE2_FUNCTIONS, "pcre2_", "_8", "libpcre2-8.so.0", "libpcre2-8-0",
                 "the rules stage (classify, eval, train, serve, rules check)")

LG_DYNLIB_DEFINE(utf8proc, LG_UTF8PROC_FUNCTIONS, "utf8proc_", "", "libutf8proc.so.2",
                 "libutf8proc2", "the BERT tokenizer (embed, and train or classify with a BERT model)")

LG_DYNLIB_DEFINE(yaml, LG_YAML_FUNCTIONS, "yaml_", "", "libyaml-0.so.2", "libyaml-0-2",
                 "reading YAML (the configuration, rules files, the default rules)")

/* llm.c - placeholder until the LLM stage lands (issue: LLM stage).
 * The client is never configured, so routes that name the LLM stage leave
 * rows Unclassified with "stage llm not available". */
#include "logify/llm.h"

lg_err lg_llm_new(const lg_config *cfg, lg_llm **out, lg_errmsg *err) {
    (void)cfg;
    *out = NULL;
    return lg_fail(err, LG_EUNSUPPORTED, "stage llm not available");
}

void lg_llm_free(lg_llm *llm) { (void)llm; }

lg_err lg_llm_stage_new(lg_llm *llm, const lg_stage_spec *spec, lg_stage *out, lg_errmsg *err) {
    (void)llm;
    (void)spec;
    (void)out;
    return lg_fail(err, LG_EUNSUPPORTED, "stage llm not available");
}

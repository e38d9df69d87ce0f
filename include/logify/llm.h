/* llm.h - the LLM stage: an OpenAI-compatible chat API client
 * (docs/llm.md). */
#ifndef LOGIFY_LLM_H
#define LOGIFY_LLM_H

#include "logify/common.h"
#include "logify/config.h"
#include "logify/stage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lg_llm lg_llm;

/* Creates the client from the configuration (cfg->doc's `llm:` section)
 * and the environment. Returns LG_ENOTFOUND with a reason in err when the
 * LLM is not configured (no key and no base URL): the stage is then off. */
lg_err lg_llm_new(const lg_config *cfg, lg_llm **out, lg_errmsg *err);
void lg_llm_free(lg_llm *llm);

/* The LLM stage for one route; borrows llm (which is thread-safe). */
lg_err lg_llm_stage_new(lg_llm *llm, const lg_stage_spec *spec, lg_stage *out, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif

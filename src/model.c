/* model.c - placeholder until the model stage lands (issue: model stage).
 * Loading reports LG_EUNSUPPORTED, so routes that name the model stage
 * leave rows Unclassified with "stage model not available". */
#include "logify/model.h"

lg_err lg_model_load(const char *dir, lg_model **out, lg_errmsg *err) {
    (void)dir;
    *out = NULL;
    return lg_fail(err, LG_EUNSUPPORTED, "stage model not available");
}

void lg_model_free(lg_model *m) { (void)m; }

lg_err lg_model_stage_new(const lg_model *m, const lg_stage_spec *spec, double default_threshold,
                          lg_stage *out, lg_errmsg *err) {
    (void)m;
    (void)spec;
    (void)default_threshold;
    (void)out;
    return lg_fail(err, LG_EUNSUPPORTED, "stage model not available");
}

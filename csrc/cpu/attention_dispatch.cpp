#include "fastnn/attention.h"
#include "fastnn/isa_dispatch.h"

namespace fastnn {

void attention_forward(Isa isa, const AttentionForwardArgs<float>& args) {
  FASTNN_DISPATCH(attention_forward_f32, args)
}
void attention_forward(Isa isa, const AttentionForwardArgs<double>& args) {
  FASTNN_DISPATCH(attention_forward_f64, args)
}
void attention_backward(Isa isa, const AttentionBackwardArgs<float>& args) {
  FASTNN_DISPATCH(attention_backward_f32, args)
}
void attention_backward(Isa isa, const AttentionBackwardArgs<double>& args) {
  FASTNN_DISPATCH(attention_backward_f64, args)
}
void vector_exp(Isa isa, const float* x, float* y, int64_t n, bool base2) {
  FASTNN_DISPATCH(vector_exp_f32, x, y, n, base2)
}
void vector_exp(Isa isa, const double* x, double* y, int64_t n, bool base2) {
  FASTNN_DISPATCH(vector_exp_f64, x, y, n, base2)
}


}  // namespace fastnn

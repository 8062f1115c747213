// libtorch prints "Sparse CSR tensor support is in beta state" on the first CSR tensor of every
// process, and "index_reduce() is in beta" on GAT's first edge softmax: noise for a user, since
// every graph gdistill builds is CSR. libtorch offers no switch, so this handler drops its "is in
// beta" notices and passes every other warning to the default handler.
#include <c10/util/Exception.h>

#include <string>

namespace {

class DropBetaNotice : public c10::WarningHandler {
 public:
  explicit DropBetaNotice(c10::WarningHandler* next) : next_(next) {}

  void process(const c10::Warning& warning) override {
    if (warning.msg().find(" is in beta") != std::string::npos) {
      return;
    }
    next_->process(warning);
  }

 private:
  c10::WarningHandler* next_;
};

}  // namespace

// The handler is per thread in c10: call it on the thread that builds the tensors (main).
extern "C" void gdistill_drop_libtorch_beta_notices() {
  static thread_local DropBetaNotice handler(c10::WarningUtils::get_warning_handler());
  c10::WarningUtils::set_warning_handler(&handler);
}

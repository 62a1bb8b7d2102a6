// Harness cases of the optim family, plus the shape-rule errors of its builders. Expected
// values were computed in float64 with a few lines of NumPy following the Keras rules in
// ir/ops/optim.h (never by the kernels).
#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ir/ops/optim.h"
#include "tests/ops/harness.h"

namespace rill::harness {

namespace {

TensorType F64(Shape s) { return {DType::kF64, std::move(s)}; }

// Shared inputs of the update cases: a [2, 2] parameter and its gradient.
const std::vector<double> kW = {0.5, -1.0, 2.0, 0.25};
const std::vector<double> kG = {0.1, -0.2, 0.3, 0.4};

}  // namespace

std::vector<OpCase> OptimCases() {
  std::vector<OpCase> cases;
  const Shape p{2, 2};

  // --- sgd_update(param, grad, velocity) ---
  const std::vector<double> vel = {0.01, 0.02, -0.03, 0.04};
  const std::vector<double> vel_new = {-0.0010000000000000009, 0.038000000000000006,
                                       -0.056999999999999995, -0.0040000000000000036};
  cases.push_back({.label = "sgd_update_plain",
                   .op = OpKind::kSgdUpdate,
                   .inputs = {F64(p), F64(p), F64(p)},
                   .attrs = {{"lr", 0.1}},
                   .values = {kW, kG, vel},
                   .expected_inputs_after = {{0.49, -0.98, 1.97, 0.21}, kG, vel}});
  cases.push_back({.label = "sgd_update_momentum",
                   .op = OpKind::kSgdUpdate,
                   .inputs = {F64(p), F64(p), F64(p)},
                   .attrs = {{"lr", 0.1}, {"momentum", 0.9}},
                   .values = {kW, kG, vel},
                   .expected_inputs_after = {{0.499, -0.962, 1.943, 0.246}, kG, vel_new}});
  cases.push_back({.label = "sgd_update_nesterov",
                   .op = OpKind::kSgdUpdate,
                   .inputs = {F64(p), F64(p), F64(p)},
                   .attrs = {{"lr", 0.1}, {"momentum", 0.9}, {"nesterov", true}},
                   .values = {kW, kG, vel},
                   .expected_inputs_after = {{0.4891, -0.9458, 1.9187, 0.2064}, kG, vel_new}});

  // Keras's weight decay first (w -= w * 0.5 * 0.1), then the momentum update.
  cases.push_back({.label = "sgd_update_weight_decay",
                   .op = OpKind::kSgdUpdate,
                   .inputs = {F64(p), F64(p), F64(p)},
                   .attrs = {{"lr", 0.1}, {"momentum", 0.9}, {"weight_decay", 0.5}},
                   .values = {kW, kG, vel},
                   .expected_inputs_after = {
                       {0.474, -0.9119999999999999, 1.843, 0.23349999999999999}, kG, vel_new}});

  // --- adam_update(param, grad, m, v, vhat, iterations) ---
  const std::vector<double> m = {0.05, -0.1, 0.0, 0.2};
  const std::vector<double> v = {0.001, 0.004, 0.0, 0.01};
  const std::vector<double> vhat = {0.002, 0.001, 0.5, 0.0};
  const std::vector<double> m_new = {0.05500000000000001, -0.11000000000000001,
                                     0.029999999999999992, 0.22000000000000003};
  const std::vector<double> v_new = {0.0010090000000000001, 0.0040360000000000005,
                                     9.000000000000007e-05, 0.010150000000000001};
  const std::vector<TensorType> adam_inputs = {F64(p), F64(p), F64(p), F64(p), F64(p), F64({})};
  // iterations = 2: this is the third step (t = 3).
  cases.push_back({.label = "adam_update_t3",
                   .op = OpKind::kAdamUpdate,
                   .inputs = adam_inputs,
                   .attrs = {{"lr", 0.01}},
                   .values = {kW, kG, m, v, vhat, {2}},
                   .expected_inputs_after = {{0.49650224092370204, -0.9965022354179883,
                                              1.993611931342171, 0.245588732627875},
                                             kG,
                                             m_new,
                                             v_new,
                                             vhat,
                                             {2}}});
  cases.push_back(
      {.label = "adam_update_amsgrad",
       .op = OpKind::kAdamUpdate,
       .inputs = adam_inputs,
       .attrs = {{"lr", 0.01}, {"amsgrad", true}},
       .values = {kW, kG, m, v, vhat, {2}},
       .expected_inputs_after = {
           {0.49751560370101017, -0.9965022354179883, 1.9999142941741284, 0.245588732627875},
           kG,
           m_new,
           v_new,
           {0.002, 0.0040360000000000005, 0.5, 0.010150000000000001},
           {2}}});
  cases.push_back(
      {.label = "adam_update_first_step_custom",
       .op = OpKind::kAdamUpdate,
       .inputs = adam_inputs,
       .attrs = {{"lr", 0.05}, {"beta_1", 0.8}, {"beta_2", 0.99}, {"epsilon", 1e-3}},
       .values = {kW, kG, m, v, vhat, {0}},
       .expected_inputs_after = {
           {0.45590199994705455, -0.9552441183228653, 1.9516129032258065, 0.19456663034300226},
           kG,
           {0.060000000000000005, -0.12000000000000001, 0.059999999999999984, 0.24000000000000002},
           {0.00109, 0.00436, 0.0009000000000000007, 0.011500000000000003},
           vhat,
           {0}}});

  // AdamW: the decay takes the plain learning rate, not adam's lr_t.
  cases.push_back({.label = "adam_update_weight_decay",
                   .op = OpKind::kAdamUpdate,
                   .inputs = adam_inputs,
                   .attrs = {{"lr", 0.01}, {"weight_decay", 0.2}},
                   .values = {kW, kG, m, v, vhat, {2}},
                   .expected_inputs_after = {{0.49550224092370204, -0.9945022354179883,
                                              1.989611931342171, 0.245088732627875},
                                             kG,
                                             m_new,
                                             v_new,
                                             vhat,
                                             {2}}});

  // --- rmsprop_update(param, grad, ms, mom, mg) ---
  const std::vector<double> ms = {0.02, 0.01, 0.05, 0.03};
  const std::vector<double> mom = {0.01, -0.02, 0.0, 0.05};
  const std::vector<double> mg = {0.05, -0.05, 0.1, 0.0};
  const std::vector<double> ms_new = {0.019000000000000003, 0.013000000000000001,
                                      0.054000000000000006, 0.043};
  const std::vector<double> mg_new = {0.05500000000000001, -0.065, 0.12, 0.039999999999999994};
  const std::vector<TensorType> rms_inputs = {F64(p), F64(p), F64(p), F64(p), F64(p)};
  cases.push_back({.label = "rmsprop_update_plain",
                   .op = OpKind::kRmspropUpdate,
                   .inputs = rms_inputs,
                   .attrs = {{"lr", 0.01}},
                   .values = {kW, kG, ms, mom, mg},
                   .expected_inputs_after = {{0.49274525659030477, -0.9824589070794717,
                                              1.9870900674662777, 0.2307103095430431},
                                             kG,
                                             ms_new,
                                             mom,
                                             mg}});
  cases.push_back(
      {.label = "rmsprop_update_centered_momentum",
       .op = OpKind::kRmspropUpdate,
       .inputs = rms_inputs,
       .attrs = {{"lr", 0.01}, {"momentum", 0.5}, {"centered", true}},
       .values = {kW, kG, ms, mom, mg},
       .expected_inputs_after = {
           {0.48708814704190195, -0.968649701146433, 1.9849244518058828, 0.20534109625530342},
           kG,
           ms_new,
           {0.012911852958098064, -0.03135029885356702, 0.015075548194117123, 0.04465890374469658},
           mg_new}});
  cases.push_back(
      {.label = "rmsprop_update_momentum",
       .op = OpKind::kRmspropUpdate,
       .inputs = rms_inputs,
       .attrs = {{"lr", 0.02}, {"rho", 0.8}, {"momentum", 0.9}, {"epsilon", 1e-3}},
       .values = {kW, kG, ms, mom, mg},
       .expected_inputs_after = {
           {0.4764904749977998, -0.9513214004461051, 1.9752983909122215, 0.17149168733666437},
           kG,
           {0.018, 0.016, 0.058, 0.055999999999999994},
           {0.023509525002200236, -0.048678599553894815, 0.024701609087778548, 0.07850831266333565},
           mg}});
  cases.push_back({.label = "rmsprop_update_centered",
                   .op = OpKind::kRmspropUpdate,
                   .inputs = rms_inputs,
                   .attrs = {{"lr", 0.01}, {"centered", true}},
                   .values = {kW, kG, ms, mom, mg},
                   .expected_inputs_after = {{0.49208814704190196, -0.978649701146433,
                                              1.9849244518058828, 0.2303410962553034},
                                             kG,
                                             ms_new,
                                             mom,
                                             mg_new}});

  cases.push_back({.label = "rmsprop_update_weight_decay",
                   .op = OpKind::kRmspropUpdate,
                   .inputs = rms_inputs,
                   .attrs = {{"lr", 0.01}, {"weight_decay", 0.3}},
                   .values = {kW, kG, ms, mom, mg},
                   .expected_inputs_after = {{0.49124525659030477, -0.9794589070794717,
                                              1.9810900674662777, 0.22996030954304308},
                                             kG,
                                             ms_new,
                                             mom,
                                             mg}});

  // --- adagrad_update(param, grad, acc) ---
  cases.push_back(
      {.label = "adagrad_update",
       .op = OpKind::kAdagradUpdate,
       .inputs = {F64(p), F64(p), F64(p)},
       .attrs = {{"lr", 0.1}},
       .values = {kW, kG, {0.1, 0.1, 0.2, 0.0}},
       .expected_inputs_after = {
           {0.46984887463312996, -0.9465477659032255, 1.94429140889171, 0.15000002499999374},
           kG,
           {0.11000000000000001, 0.14, 0.29000000000000004, 0.16000000000000003}}});

  cases.push_back(
      {.label = "adagrad_update_weight_decay",
       .op = OpKind::kAdagradUpdate,
       .inputs = {F64(p), F64(p), F64(p)},
       .attrs = {{"lr", 0.1}, {"weight_decay", 0.25}},
       .values = {kW, kG, {0.1, 0.1, 0.2, 0.0}},
       .expected_inputs_after = {
           {0.45734887463312995, -0.9215477659032255, 1.89429140889171, 0.14375002499999373},
           kG,
           {0.11000000000000001, 0.14, 0.29000000000000004, 0.16000000000000003}}});

  // The weight-decay cases again with the learning rate as an input (a schedule's rate) in
  // place of the attribute: the same values.
  const size_t with_attr_lr = cases.size();
  for (size_t k = 0; k < with_attr_lr; ++k) {
    if (!absl::EndsWith(cases[k].label, "_weight_decay")) continue;
    OpCase c = cases[k];
    c.label += "_lr_input";
    const double lr = c.attrs.GetFloat("lr");
    c.attrs.Set("lr", 0.0);
    c.inputs.push_back(F64({}));
    c.values.push_back({lr});
    c.expected_inputs_after.push_back({lr});
    cases.push_back(std::move(c));
  }

  // --- lr_schedule(iterations) ---
  // Expected: Keras's own schedules (tf-keras 2.21's keras.optimizers.schedules, float32) at
  // the step, e.g. ExponentialDecay(0.1, 3, 0.5, staircase=True)(7) for the first; Keras
  // 3.15's give the same values.
  struct ScheduleCase {
    const char* label;
    ops::LrScheduleSpec spec;
    double step;
    double keras;
  };
  const std::vector<ScheduleCase> schedules = {
      {"exponential_staircase",
       {.kind = "ExponentialDecay",
        .initial_learning_rate = 0.1,
        .decay_steps = 3,
        .decay_rate = 0.5,
        .staircase = true},
       7,
       0.02500000037252903},
      {"exponential_smooth",
       {.kind = "ExponentialDecay",
        .initial_learning_rate = 0.1,
        .decay_steps = 4,
        .decay_rate = 0.9},
       6,
       0.08538150042295456},
      {"inverse_time",
       {.kind = "InverseTimeDecay",
        .initial_learning_rate = 0.1,
        .decay_steps = 2,
        .decay_rate = 0.5},
       5,
       0.04444444552063942},
      {"inverse_time_staircase",
       {.kind = "InverseTimeDecay",
        .initial_learning_rate = 0.1,
        .decay_steps = 2,
        .decay_rate = 0.5,
        .staircase = true},
       5,
       0.05000000074505806},
      {"polynomial",
       {.kind = "PolynomialDecay",
        .initial_learning_rate = 0.1,
        .decay_steps = 10,
        .end_learning_rate = 0.01,
        .power = 2},
       4,
       0.04240000247955322},
      {"polynomial_past_the_end",
       {.kind = "PolynomialDecay",
        .initial_learning_rate = 0.1,
        .decay_steps = 10,
        .end_learning_rate = 0.01,
        .power = 2},
       15,
       0.009999999776482582},
      {"polynomial_cycle",
       {.kind = "PolynomialDecay",
        .initial_learning_rate = 0.1,
        .decay_steps = 10,
        .end_learning_rate = 0.01,
        .power = 2,
        .cycle = true},
       15,
       0.015625},
      {"piecewise_on_a_boundary",
       {.kind = "PiecewiseConstantDecay", .boundaries = {2, 5}, .values = {0.1, 0.05, 0.01}},
       5,
       0.05000000074505806},
      {"piecewise_past_the_last",
       {.kind = "PiecewiseConstantDecay", .boundaries = {2, 5}, .values = {0.1, 0.05, 0.01}},
       6,
       0.009999999776482582},
      {"cosine",
       {.kind = "CosineDecay", .initial_learning_rate = 0.1, .decay_steps = 8, .alpha = 0.1},
       3,
       0.07222075760364532},
      {"cosine_warming_up",
       {.kind = "CosineDecay",
        .initial_learning_rate = 0.0,
        .decay_steps = 8,
        .alpha = 0.1,
        .warmup = true,
        .warmup_target = 0.1,
        .warmup_steps = 4},
       2,
       0.05000000074505806},
      {"cosine_after_warmup",
       {.kind = "CosineDecay",
        .initial_learning_rate = 0.0,
        .decay_steps = 8,
        .alpha = 0.1,
        .warmup = true,
        .warmup_target = 0.1,
        .warmup_steps = 4},
       6,
       0.08681981265544891},
      // CosineDecayRestarts(0.1, 2, t_mul=2.0, m_mul=0.8, alpha=0.1): periods [0, 2), [2, 6),
      // [6, 14), ...
      {"cosine_restarts_in_the_second_period",
       {.kind = "CosineDecayRestarts",
        .initial_learning_rate = 0.1,
        .decay_steps = 2,
        .alpha = 0.1,
        .t_mul = 2,
        .m_mul = 0.8},
       5,
       0.020544156432151794},
      {"cosine_restarts_at_a_restart",
       {.kind = "CosineDecayRestarts",
        .initial_learning_rate = 0.1,
        .decay_steps = 2,
        .alpha = 0.1,
        .t_mul = 2,
        .m_mul = 0.8},
       6,
       0.06760000437498093},
      {"cosine_restarts_late",
       {.kind = "CosineDecayRestarts",
        .initial_learning_rate = 0.1,
        .decay_steps = 2,
        .alpha = 0.1,
        .t_mul = 2,
        .m_mul = 0.8},
       100,
       0.020465178415179253},
      {"cosine_restarts_fractional_t_mul",
       {.kind = "CosineDecayRestarts",
        .initial_learning_rate = 0.1,
        .decay_steps = 4,
        .alpha = 0.05,
        .t_mul = 1.5,
        .m_mul = 0.9},
       23,
       0.060305606573820114},
      {"cosine_restarts_equal_periods",
       {.kind = "CosineDecayRestarts",
        .initial_learning_rate = 0.1,
        .decay_steps = 3,
        .t_mul = 1,
        .m_mul = 0.5},
       7,
       0.01875000260770321},
  };
  for (const ScheduleCase& sc : schedules) {
    Graph g;
    Builder b(g, "case");
    ops::LrSchedule(b, g.AddInput("iterations", F64({})), sc.spec);
    cases.push_back({.label = absl::StrCat("lr_schedule_", sc.label),
                     .op = OpKind::kLrSchedule,
                     .inputs = {F64({})},
                     .attrs = g.nodes().back()->attrs(),
                     .values = {{sc.step}},
                     .expected = {{sc.keras}},
                     .output_shapes = {Shape{}},
                     // Keras compares the step with the boundaries: a NaN step matches none.
                     .compared_inputs = {sc.spec.kind == "PiecewiseConstantDecay" ? 0 : -1}});
  }

  // --- assign_add(x) ---
  cases.push_back({.label = "assign_add_counter",
                   .op = OpKind::kAssignAdd,
                   .inputs = {F64({})},
                   .attrs = {{"value", 1.0}},
                   .values = {{41}},
                   .expected_inputs_after = {{42}}});
  cases.push_back({.label = "assign_add_tensor",
                   .op = OpKind::kAssignAdd,
                   .inputs = {F64({3})},
                   .attrs = {{"value", -0.5}},
                   .values = {{1, 2, 3}},
                   .expected_inputs_after = {{0.5, 1.5, 2.5}}});

  // --- assign(x, value) ---
  cases.push_back({.label = "assign_state",
                   .op = OpKind::kAssign,
                   .inputs = {F64({2, 2}), F64({2, 2})},
                   .values = {{1, 2, 3, 4}, {-1, 0.5, 7, 0}},
                   .expected_inputs_after = {{-1, 0.5, 7, 0}, {-1, 0.5, 7, 0}}});

  // --- clip_by_norm(g) ---
  cases.push_back({.label = "clip_by_norm_clipped",
                   .op = OpKind::kClipByNorm,
                   .inputs = {F64({2, 2})},
                   .attrs = {{"clipnorm", 2.5}},
                   .values = {{3, 0, 0, -4}},  // norm 5
                   .expected = {{1.5, 0, 0, -2}},
                   .output_shapes = {Shape{2, 2}}});
  cases.push_back({.label = "clip_by_norm_unclipped",
                   .op = OpKind::kClipByNorm,
                   .inputs = {F64({3})},
                   .attrs = {{"clipnorm", 10.0}},
                   .values = {{3, 0, -4}},
                   .expected = {{3, 0, -4}},
                   .output_shapes = {Shape{3}}});
  cases.push_back({.label = "clip_by_norm_zero",
                   .op = OpKind::kClipByNorm,
                   .inputs = {F64({2})},
                   .attrs = {{"clipnorm", 1.0}},
                   .values = {{0, 0}},
                   .expected = {{0, 0}}});

  // --- constrain(param): W = [[3, -0.5, 0], [4, 1, -0.1]] ---
  const std::vector<double> w23 = {3.0, -0.5, 0.0, 4.0, 1.0, -0.1};
  auto constrain = [&](std::string label, Attrs attrs, std::vector<double> after) {
    cases.push_back({.label = std::move(label),
                     .op = OpKind::kConstrain,
                     .inputs = {F64({2, 3})},
                     .attrs = std::move(attrs),
                     .values = {w23},
                     .expected_inputs_after = {std::move(after)}});
  };
  constrain("constrain_max_norm_axis0", {{"kind", std::string("max_norm")}},
            {1.1999999760000004, -0.49999995527864444, 0.0, 1.5999999680000005, 0.9999999105572889,
             -0.0999999000001});
  constrain(
      "constrain_max_norm_axis1",
      {{"kind", std::string("max_norm")}, {"max_value", 1.0}, {"axis", std::vector<int64_t>{-1}}},
      {0.9863938913997125, -0.16439898189995208, 0.0, 0.9698572664221653, 0.24246431660554132,
       -0.024246431660554135});
  constrain("constrain_unit_norm", {{"kind", std::string("unit_norm")}},
            {0.5999999880000002, -0.44721355549996145, 0.0, 0.7999999840000003, 0.8944271109999229,
             -0.999999000001});
  constrain("constrain_unit_norm_all_axes",
            {{"kind", std::string("unit_norm")}, {"axis", std::vector<int64_t>{0, 1}}},
            {0.5854285327640043, -0.09757142212733405, 0.0, 0.7805713770186724, 0.1951428442546681,
             -0.01951428442546681});
  constrain("constrain_min_max_norm",
            {{"kind", std::string("min_max_norm")},
             {"min_value", 0.5},
             {"max_value", 2.0},
             {"rate", 0.5}},
            {2.0999999580000006, -0.49999995527864444, 0.0, 2.799999944000001, 0.9999999105572889,
             -0.29999970000029996});
  constrain("constrain_non_neg", {{"kind", std::string("non_neg")}},
            {3.0, 0.0, 0.0, 4.0, 1.0, 0.0});
  // Rank 3, norms over axes 0 and 2 (one norm per middle index): w = arange(24)/10 - 1.
  std::vector<double> w234(24);
  for (int i = 0; i < 24; ++i) w234[i] = i / 10.0 - 1.0;
  cases.push_back({.label = "constrain_max_norm_rank3",
                   .op = OpKind::kConstrain,
                   .inputs = {F64({2, 3, 4})},
                   .attrs = {{"kind", std::string("max_norm")},
                             {"max_value", 1.5},
                             {"axis", std::vector<int64_t>{0, -1}}},
                   .values = {w234},
                   .expected_inputs_after = {{-0.8040843580249002,
                                              -0.7236759222224102,
                                              -0.6432674864199203,
                                              -0.56285905061743,
                                              -0.5062895269356996,
                                              -0.42190793911308305,
                                              -0.3375263512904665,
                                              -0.25314476346784986,
                                              -0.12909943931802523,
                                              -0.06454971965901261,
                                              0.0,
                                              0.06454971965901268,
                                              0.16081687160498,
                                              0.24122530740747009,
                                              0.32163374320996,
                                              0.4020421790124501,
                                              0.5062895269356997,
                                              0.5906711147583161,
                                              0.675052702580933,
                                              0.7594342904035495,
                                              0.6454971965901263,
                                              0.710046916249139,
                                              0.7745966359081516,
                                              0.839146355567164}}});
  return cases;
}

namespace {

// The builders' errors: the op, the node and both shapes.
class OptimBuilderErrors : public ::testing::Test {
 protected:
  Graph g_;
  Builder b_{g_, "opt"};
  Value* w_ = g_.AddParam("w", F64({3, 4}), {});
};

TEST_F(OptimBuilderErrors, SlotOfAnotherShapeNamesBothShapes) {
  Value* grad = g_.AddInput("g", F64({4, 3}));
  EXPECT_EQ(ops::SgdUpdate(b_, w_, grad, g_.AddInput("v", F64({3, 4})), 0.1, 0.0, false), nullptr);
  EXPECT_EQ(b_.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b_.status().message(),
            "sgd_update 'opt/sgd_update': grad is f64[4, 3], param is f64[3, 4]");
}

TEST_F(OptimBuilderErrors, SlotOfAnotherDType) {
  Value* grad = g_.AddInput("g", F64({3, 4}));
  Value* acc = g_.AddInput("acc", {DType::kF32, Shape{3, 4}});
  EXPECT_EQ(ops::AdagradUpdate(b_, w_, grad, acc, 0.1, 1e-7), nullptr);
  EXPECT_NE(b_.status().message().find("acc is f32[3, 4], param is f64[3, 4]"), std::string::npos)
      << b_.status();
}

TEST_F(OptimBuilderErrors, IterationsMustBeAScalar) {
  Value* grad = g_.AddInput("g", F64({3, 4}));
  Value* it = g_.AddInput("it", F64({1}));
  EXPECT_EQ(ops::AdamUpdate(b_, w_, grad, grad, grad, grad, it, 0.01, 0.9, 0.999, 1e-7, false),
            nullptr);
  EXPECT_NE(b_.status().message().find("iterations is f64[1], expected a scalar f64[]"),
            std::string::npos)
      << b_.status();
}

TEST_F(OptimBuilderErrors, HyperparameterRanges) {
  Value* grad = g_.AddInput("g", F64({3, 4}));
  EXPECT_EQ(ops::SgdUpdate(b_, w_, grad, grad, 0.1, 1.5, false), nullptr);
  EXPECT_NE(b_.status().message().find("momentum = 1.5"), std::string::npos) << b_.status();
  Builder b2(g_);
  EXPECT_EQ(ops::ClipByNorm(b2, grad, 0.0), nullptr);
  EXPECT_NE(b2.status().message().find("clipnorm = 0"), std::string::npos) << b2.status();
  for (double weight_decay : {-0.1, HUGE_VAL, std::nan("")}) {
    Builder b3(g_);
    EXPECT_EQ(ops::AdagradUpdate(b3, w_, grad, grad, 0.1, 1e-7, weight_decay), nullptr);
    EXPECT_NE(b3.status().message().find("weight_decay = "), std::string::npos) << b3.status();
  }
}

TEST_F(OptimBuilderErrors, LearningRateInputIsAScalarAndTheOnlyRate) {
  Value* grad = g_.AddInput("g", F64({3, 4}));
  EXPECT_EQ(ops::SgdUpdate(b_, w_, grad, grad, 0.0, 0.0, false, 0.0, g_.AddInput("lr", F64({1}))),
            nullptr);
  EXPECT_NE(b_.status().message().find("learning rate input is f64[1], expected a scalar f64[]"),
            std::string::npos)
      << b_.status();
  Builder b2(g_);
  EXPECT_EQ(ops::AdagradUpdate(b2, w_, grad, grad, 0.1, 1e-7, 0.0, g_.AddInput("lr2", F64({}))),
            nullptr);
  EXPECT_NE(b2.status().message().find("lr = 0.1 beside a learning rate input, expected 0"),
            std::string::npos)
      << b2.status();
}

TEST_F(OptimBuilderErrors, ScheduleSettings) {
  Value* it = g_.AddInput("it", F64({}));
  const std::vector<std::pair<ops::LrScheduleSpec, std::string>> bad = {
      {{.kind = "StepDecay", .initial_learning_rate = 0.1}, "unknown schedule kind 'StepDecay'"},
      {{.kind = "ExponentialDecay", .initial_learning_rate = 0.1, .decay_steps = 0},
       "ExponentialDecay: decay_steps = 0, expected a positive finite value"},
      {{.kind = "CosineDecay", .initial_learning_rate = std::nan("")},
       "initial_learning_rate = nan, expected a finite value"},
      {{.kind = "PiecewiseConstantDecay", .boundaries = {2, 5}, .values = {0.1, 0.05}},
       "PiecewiseConstantDecay: 2 values for 2 boundaries, expected one value more"},
      {{.kind = "PiecewiseConstantDecay", .boundaries = {5, 5.5}, .values = {0.1, 0.05, 0.01}},
       "PiecewiseConstantDecay: boundaries [5.0, 5.5], expected finite values increasing as "
       "integers"},
      {{.kind = "PiecewiseConstantDecay",
        .boundaries = std::vector<double>(17, 1.0),
        .values = std::vector<double>(18, 0.1)},
       "PiecewiseConstantDecay: 17 boundaries, expected 1 to 16"},
      {{.kind = "CosineDecayRestarts", .initial_learning_rate = 0.1, .decay_steps = -1},
       "CosineDecayRestarts: first_decay_steps = -1, expected a positive finite value"},
      {{.kind = "CosineDecayRestarts", .initial_learning_rate = 0.1, .t_mul = 0},
       "CosineDecayRestarts: t_mul = 0, expected a positive value"},
      {{.kind = "CosineDecayRestarts", .initial_learning_rate = 0.1, .m_mul = INFINITY},
       "m_mul = inf, expected a finite value"},
  };
  for (const auto& [spec, message] : bad) {
    Builder b(g_);
    EXPECT_EQ(ops::LrSchedule(b, it, spec), nullptr) << message;
    EXPECT_NE(b.status().message().find(message), std::string::npos) << b.status();
  }
  Builder b(g_);
  EXPECT_EQ(ops::LrSchedule(b, g_.AddInput("it32", {DType::kF32, Shape{2}}),
                            {.kind = "ExponentialDecay", .initial_learning_rate = 0.1}),
            nullptr);
  EXPECT_NE(b.status().message().find("iterations is f32[2], expected a float scalar"),
            std::string::npos)
      << b.status();
}

TEST_F(OptimBuilderErrors, UnknownConstraintKind) {
  EXPECT_EQ(ops::Constrain(b_, w_, {.kind = "max_nrom"}), nullptr);
  EXPECT_NE(b_.status().message().find("unknown constraint kind 'max_nrom'"), std::string::npos)
      << b_.status();
}

TEST_F(OptimBuilderErrors, ConstraintAxisOutOfRange) {
  EXPECT_EQ(ops::Constrain(b_, w_, {.kind = "unit_norm", .axis = {2}}), nullptr);
  EXPECT_NE(b_.status().message().find("axis 2 out of range for param f64[3, 4]"),
            std::string::npos)
      << b_.status();
  Builder b2(g_);
  EXPECT_EQ(ops::Constrain(b2, w_, {.kind = "max_norm", .axis = {0, -2}}), nullptr);
  EXPECT_NE(b2.status().message().find("axis -2 given twice"), std::string::npos) << b2.status();
}

TEST_F(OptimBuilderErrors, UpdatesHaveNoOutputsAndSideEffects) {
  Value* grad = g_.AddInput("g", F64({3, 4}));
  Node* n = ops::SgdUpdate(b_, w_, grad, grad, 0.1, 0.0, false);
  ASSERT_NE(n, nullptr) << b_.status();
  EXPECT_EQ(n->num_outputs(), 0);
  EXPECT_TRUE(GetOpDef(n->op()).has_side_effects);
  EXPECT_TRUE(GetOpDef(n->op()).not_differentiable);
  EXPECT_FALSE(GetOpDef(OpKind::kClipByNorm).has_side_effects);
}

}  // namespace
}  // namespace rill::harness

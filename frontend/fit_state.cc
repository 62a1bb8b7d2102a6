#include "frontend/fit_state.h"

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ir/status.h"

namespace rill {
namespace {

constexpr char kParam[] = "param/";
constexpr char kBestWeight[] = "best_weights/";
constexpr char kOrder[] = "fit/order";
constexpr char kOptimizer[] = "optimizer";
constexpr char kOptimizerSettings[] = "optimizer.settings";
// "history/<epoch>/<name>": one value per result of each completed epoch.
constexpr char kHistory[] = "history/";

// The value `key` of `c`, if it has one (an older rill's checkpoint may not).
// The "name=value" items of an OptimizerSettingsText, split at the commas outside brackets.
std::vector<std::string> SettingsItems(const std::string& text) {
  std::vector<std::string> items(1);
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    depth += (ch == '(' || ch == '[') - (ch == ')' || ch == ']');
    if (ch == ',' && depth == 0 && i + 1 < text.size() && text[i + 1] == ' ') {
      items.emplace_back();
      ++i;
    } else {
      items.back() += ch;
    }
  }
  return items;
}

// The checkpoint's settings that differ from this run's: "weight_decay=0.2 (this run's
// weight_decay=0)", ...
std::string SettingsDifference(const std::string& checkpoint, const std::string& run) {
  const std::vector<std::string> theirs = SettingsItems(checkpoint), mine = SettingsItems(run);
  std::vector<std::string> differ;
  for (size_t i = 0; i < theirs.size(); ++i) {
    const std::string other = i < mine.size() ? mine[i] : "nothing";
    if (theirs[i] != other) differ.push_back(absl::StrCat(theirs[i], " (this run's ", other, ")"));
  }
  return differ.empty() ? checkpoint : absl::StrJoin(differ, ", ");
}

std::optional<std::string> Recorded(const Checkpoint& c, const std::string& key) {
  auto it = c.values.find(key);
  if (it == c.values.end()) return std::nullopt;
  return it->second;
}

// Exact round trip, infinities included.
std::string Exact(double v) { return absl::StrFormat("%.17g", v); }

class Values {
 public:
  Values(const Checkpoint& c, const std::string& where) : c_(c), where_(where) {}
  absl::Status status() const { return status_; }
  double Double(const std::string& name) {
    const std::string& text = Find(name);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (status_.ok() && (text.empty() || *end != '\0')) Fail(name);
    return v;
  }
  int Int(const std::string& name) {
    int v = 0;
    if (!absl::SimpleAtoi(Find(name), &v)) Fail(name);
    return v;
  }
  const std::string& Find(const std::string& name) {
    static const std::string kEmpty;
    auto it = c_.values.find(name);
    if (it != c_.values.end()) return it->second;
    Fail(name);
    return kEmpty;
  }
  void Fail(const std::string& name) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", where_, ": value '", name, "' missing or malformed"));
    }
  }

 private:
  const Checkpoint& c_;
  std::string where_;
  absl::Status status_;
};

}  // namespace

Checkpoint ToCheckpoint(const FitState& s, const Model& model) {
  Checkpoint c;
  c.epoch = s.epoch;
  std::ostringstream rng;
  rng << s.rng;
  c.values = {{"learning_rate", Exact(s.learning_rate)},
              {"rng", rng.str()},
              {"plateau.best", Exact(s.plateau.best)},
              {"plateau.wait", absl::StrCat(s.plateau.wait)},
              {"plateau.cooldown_counter", absl::StrCat(s.plateau.cooldown_counter)},
              {"early_stopping.best", Exact(s.early_stopping.best)},
              {"early_stopping.wait", absl::StrCat(s.early_stopping.wait)},
              {"early_stopping.best_epoch", absl::StrCat(s.early_stopping.best_epoch)},
              {"checkpoint.best", Exact(s.checkpoint_best)},
              {kOptimizer, s.optimizer},
              {kOptimizerSettings, s.optimizer_settings},
              {"plateau.monitor", s.plateau_monitor},
              {"early_stopping.monitor", s.early_stopping_monitor},
              {"checkpoint.monitor", s.checkpoint_monitor},
              {"stopped", s.stopped ? "1" : "0"}};
  for (size_t e = 0; e < s.history.size(); ++e) {
    for (const auto& [name, value] : s.history[e])
      c.values[absl::StrFormat("%s%06d/%s", kHistory, e, name)] = Exact(value);
  }
  for (const auto& [name, tensor] : model.params().tensors()) c.tensors[kParam + name] = tensor;
  Tensor order(DType::kI64, Shape{static_cast<int64_t>(s.order.size())});
  std::copy(s.order.begin(), s.order.end(), order.data<int64_t>());
  c.tensors[kOrder] = order;
  for (size_t i = 0; i < s.best_weights.size(); ++i)
    c.tensors[absl::StrFormat("%s%06d", kBestWeight, i)] = s.best_weights[i];
  return c;
}

absl::Status RestoreCheckpoint(const Checkpoint& c, const std::string& where, FitState& s,
                               Model& model) {
  auto invalid = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", where, ": ", what));
  };
  FitState r = s;
  r.epoch = c.epoch;
  if (const std::string made_with = CheckpointOptimizer(c);
      !made_with.empty() && !s.optimizer.empty() && made_with != s.optimizer) {
    return invalid(absl::StrCat("made with optimizer ", made_with, ", this run's is ", s.optimizer,
                                ": a resumed run goes on with its checkpoint's optimizer"));
  }
  // Its settings too (a checkpoint written before they were recorded has none).
  if (const std::optional<std::string> made_with = Recorded(c, kOptimizerSettings);
      made_with && !made_with->empty() && !s.optimizer_settings.empty() &&
      *made_with != s.optimizer_settings) {
    return invalid(absl::StrCat("made with optimizer settings ",
                                SettingsDifference(*made_with, s.optimizer_settings),
                                ": a resumed run goes on with its checkpoint's settings"));
  }
  // A callback's state is its monitor's: a resumed run's callback watches what the checkpoint's
  // did, or starts afresh where the checkpoint's run had none (a checkpoint written before
  // monitors were named has no names).
  for (const auto& [key, mine] : {std::pair{"plateau.monitor", s.plateau_monitor},
                                  std::pair{"early_stopping.monitor", s.early_stopping_monitor},
                                  std::pair{"checkpoint.monitor", s.checkpoint_monitor}}) {
    const std::optional<std::string> theirs = Recorded(c, key);
    if (!theirs || theirs->empty() || mine.empty() || *theirs == mine) continue;
    const std::string callback(key, std::string_view(key).find('.'));
    return invalid(absl::StrCat(callback, " watches ", mine, " in this run, ", *theirs,
                                " in the checkpoint's: a resumed run goes on watching what its "
                                "checkpoint's did"));
  }
  const bool fresh_plateau = Recorded(c, "plateau.monitor") == std::string();
  const bool fresh_early = Recorded(c, "early_stopping.monitor") == std::string();
  r.stopped = CheckpointStopped(c);
  r.history = CheckpointHistory(c);
  Values v(c, where);
  r.learning_rate = v.Double("learning_rate");
  r.plateau = {v.Double("plateau.best"), v.Int("plateau.wait"), v.Int("plateau.cooldown_counter")};
  r.early_stopping = {v.Double("early_stopping.best"), v.Int("early_stopping.wait"),
                      v.Int("early_stopping.best_epoch")};
  if (fresh_plateau) r.plateau = s.plateau;
  if (fresh_early) r.early_stopping = s.early_stopping;
  r.checkpoint_best = v.Double("checkpoint.best");
  std::istringstream rng(v.Find("rng"));
  RILL_RETURN_IF_ERROR(v.status());
  if (!(rng >> r.rng)) return invalid("value 'rng' malformed");
  auto order = c.tensors.find(kOrder);
  if (order == c.tensors.end() || order->second.dtype() != DType::kI64 ||
      order->second.size() != static_cast<int64_t>(s.order.size())) {
    return invalid(absl::StrCat("made for another number of training samples (this run has ",
                                s.order.size(), ")"));
  }
  const int64_t* rows = order->second.data<int64_t>();
  r.order.assign(rows, rows + s.order.size());
  for (int64_t row : r.order) {
    if (row < 0 || row >= static_cast<int64_t>(s.order.size())) return invalid("bad 'fit/order'");
  }
  std::vector<WeightInfo> weights = model.Weights();
  r.best_weights.clear();
  for (size_t i = 0; i < weights.size(); ++i) {
    auto it = c.tensors.find(absl::StrFormat("%s%06d", kBestWeight, i));
    if (it == c.tensors.end()) break;
    r.best_weights.push_back(it->second);
  }
  if (!r.best_weights.empty() && r.best_weights.size() != weights.size())
    return invalid("incomplete best weights");
  for (const WeightInfo& w : weights) {
    if (!c.tensors.contains(kParam + w.name))
      return invalid(absl::StrCat("lacks weight '", w.name, "' of the model"));
  }
  // Every tensor is checked before the store is changed.
  for (const auto& [key, tensor] : c.tensors) {
    if (!key.starts_with(kParam)) continue;
    const Tensor* have = std::as_const(model.params()).Find(key.substr(sizeof(kParam) - 1));
    if (have != nullptr && have->type() != tensor.type()) {
      return invalid(absl::StrCat("'", key.substr(sizeof(kParam) - 1), "' is ",
                                  tensor.type().ToString(), ", the model's is ",
                                  have->type().ToString()));
    }
  }
  for (const auto& [key, tensor] : c.tensors) {
    if (key.starts_with(kParam)) model.params().Set(key.substr(sizeof(kParam) - 1), tensor);
  }
  s = std::move(r);
  return absl::OkStatus();
}

bool CheckpointStopped(const Checkpoint& c) { return Recorded(c, "stopped") == std::string("1"); }

std::string CheckpointOptimizer(const Checkpoint& c) {
  return Recorded(c, kOptimizer).value_or("");
}

std::vector<std::map<std::string, double>> CheckpointHistory(const Checkpoint& c) {
  // Each epoch has at least one value: fewer values than epochs is no history (and the epoch
  // count, read from the file, sizes nothing before the values bound it).
  int64_t values = 0;
  for (const auto& [key, text] : c.values) values += key.starts_with(kHistory) ? 1 : 0;
  if (c.epoch == 0 || values < c.epoch) return {};
  std::vector<std::map<std::string, double>> history(static_cast<size_t>(c.epoch));
  for (const auto& [key, text] : c.values) {
    if (!key.starts_with(kHistory)) continue;
    // "history/000003/loss"
    const size_t slash = key.find('/', sizeof(kHistory) - 1);
    int epoch = -1;
    double value = 0;
    if (slash == std::string::npos ||
        !absl::SimpleAtoi(key.substr(sizeof(kHistory) - 1, slash - (sizeof(kHistory) - 1)),
                          &epoch) ||
        epoch < 0 || epoch >= c.epoch || !absl::SimpleAtod(text, &value)) {
      return {};
    }
    history[epoch][key.substr(slash + 1)] = value;
  }
  for (const auto& row : history) {
    if (row.empty()) return {};
  }
  return history;
}

}  // namespace rill

#include "runtime/plan_codec.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rill {
namespace {

void EncodeAttrs(const Attrs& attrs, ByteWriter& out) {
  out.U32(static_cast<uint32_t>(attrs.values().size()));
  for (const auto& [name, value] : attrs.values()) {
    out.Str(name);
    const AttrKind kind = KindOf(value);
    out.U8(static_cast<uint8_t>(kind));
    switch (kind) {
      case AttrKind::kInt:
        out.I64(std::get<int64_t>(value));
        break;
      case AttrKind::kFloat:
        out.F64(std::get<double>(value));
        break;
      case AttrKind::kBool:
        out.U8(std::get<bool>(value) ? 1 : 0);
        break;
      case AttrKind::kString:
        out.Str(std::get<std::string>(value));
        break;
      case AttrKind::kInts: {
        const auto& v = std::get<std::vector<int64_t>>(value);
        out.U32(static_cast<uint32_t>(v.size()));
        for (int64_t x : v) out.I64(x);
        break;
      }
      case AttrKind::kFloats: {
        const auto& v = std::get<std::vector<double>>(value);
        out.U32(static_cast<uint32_t>(v.size()));
        for (double x : v) out.F64(x);
        break;
      }
      case AttrKind::kDType:
        out.U8(static_cast<uint8_t>(std::get<DType>(value)));
        break;
    }
  }
}

Attrs DecodeAttrs(ByteReader& in) {
  Attrs attrs;
  const size_t n = in.Count(6);
  for (size_t i = 0; i < n && in.ok(); ++i) {
    std::string name = in.Str();
    const uint8_t kind = in.U8();
    if (!in.ok()) break;
    switch (kind) {
      case static_cast<uint8_t>(AttrKind::kInt):
        attrs.Set(name, in.I64());
        break;
      case static_cast<uint8_t>(AttrKind::kFloat):
        attrs.Set(name, in.F64());
        break;
      case static_cast<uint8_t>(AttrKind::kBool): {
        const uint8_t b = in.U8();
        if (b > 1) in.Fail(absl::StrCat("attribute '", name, "': bool byte ", b));
        attrs.Set(name, b == 1);
        break;
      }
      case static_cast<uint8_t>(AttrKind::kString):
        attrs.Set(name, in.Str());
        break;
      case static_cast<uint8_t>(AttrKind::kInts): {
        std::vector<int64_t> v(in.Count(8));
        for (int64_t& x : v) x = in.I64();
        attrs.Set(name, std::move(v));
        break;
      }
      case static_cast<uint8_t>(AttrKind::kFloats): {
        std::vector<double> v(in.Count(8));
        for (double& x : v) x = in.F64();
        attrs.Set(name, std::move(v));
        break;
      }
      case static_cast<uint8_t>(AttrKind::kDType): {
        const uint8_t d = in.U8();
        if (d > static_cast<uint8_t>(DType::kI64))
          in.Fail(absl::StrCat("attribute '", name, "': dtype code ", d));
        attrs.Set(name, static_cast<DType>(d));
        break;
      }
      default:
        in.Fail(absl::StrCat("attribute '", name, "': unknown kind ", kind));
    }
  }
  return attrs;
}

void EncodeIndices(const std::vector<int>& v, ByteWriter& out) {
  out.U32(static_cast<uint32_t>(v.size()));
  for (int i : v) out.U32(static_cast<uint32_t>(i));
}

std::vector<int> DecodeIndices(ByteReader& in, size_t limit) {
  std::vector<int> v(in.Count(4));
  for (int& i : v) i = in.Index(limit);
  return v;
}

// A signed 32-bit value that is -1 or an index in [0, limit).
int DecodeOptionalIndex(ByteReader& in, size_t limit) {
  const auto v = static_cast<int32_t>(in.U32());
  if (in.ok() && (v < -1 || v >= static_cast<int64_t>(limit)))
    in.Fail(absl::StrCat("index ", v, " out of range [-1, ", limit, ")"));
  return v;
}

}  // namespace

void EncodePlan(const Plan& plan, ByteWriter& out) {
  out.U8(static_cast<uint8_t>(plan.device));
  out.U8(plan.training ? 1 : 0);
  out.U8(plan.tf32 ? 1 : 0);
  out.I64(plan.arena_bytes);
  out.U32(static_cast<uint32_t>(plan.buffers.size()));
  for (const PlanBuffer& b : plan.buffers) {
    out.Str(b.name);
    out.Type(b.type);
    out.U8(static_cast<uint8_t>(b.kind));
    out.I64(b.offset);
  }
  out.U32(static_cast<uint32_t>(plan.steps.size()));
  for (const PlanStep& s : plan.steps) {
    out.Str(s.node_name);
    out.Str(std::string(OpName(s.op)));
    EncodeAttrs(s.attrs, out);
    EncodeIndices(s.inputs, out);
    EncodeIndices(s.outputs, out);
    EncodeIndices(s.workspace, out);
    out.U32(s.in_place_inputs);
    out.U32(static_cast<uint32_t>(s.in_place_input));
    out.U32(s.writes_inputs);
    out.U32(static_cast<uint32_t>(s.update_run));
    out.Str(s.notes);
  }
  EncodeIndices(plan.inputs, out);
  EncodeIndices(plan.outputs, out);
  const MemoryReport& m = plan.memory;
  out.U8(m.planned ? 1 : 0);
  out.U8(m.reuse ? 1 : 0);
  out.I64(m.arena_bytes);
  out.I64(m.lower_bound_bytes);
  out.I64(m.naive_bytes);
  out.U32(static_cast<uint32_t>(m.num_buffers));
  out.U32(static_cast<uint32_t>(m.num_in_place));
  out.Str(m.schedule);
  const GruResidency& r = plan.gru_residency;
  out.U8(r.analyzed ? 1 : 0);
  out.U32(static_cast<uint32_t>(r.layers.size()));
  for (const ResidentGruLayer& l : r.layers) {
    for (int i : {l.kernel, l.recurrent_kernel, l.bias}) out.U32(static_cast<uint32_t>(i));
    out.I64(l.input_size);
    out.I64(l.hidden_size);
  }
  out.U32(static_cast<uint32_t>(r.buffers.size()));
  for (const auto& [buffer, where] : r.buffers) {
    out.U32(static_cast<uint32_t>(buffer));
    out.U32(static_cast<uint32_t>(where.layer));
    out.U32(static_cast<uint32_t>(where.param));
  }
  out.U32(static_cast<uint32_t>(r.refused.size()));
  for (const std::string& why : r.refused) out.Str(why);
}

absl::StatusOr<Plan> DecodePlan(ByteReader& in) {
  Plan plan;
  const uint8_t device = in.U8();
  if (in.ok() && device > static_cast<uint8_t>(DeviceKind::kCuda))
    in.Fail(absl::StrCat("unknown device code ", device));
  plan.device = static_cast<DeviceKind>(device);
  plan.training = in.U8() != 0;
  const uint8_t tf32 = in.U8();
  if (in.ok() && tf32 > 1) in.Fail(absl::StrCat("tf32 flag ", tf32));
  plan.tf32 = tf32 == 1;
  plan.arena_bytes = in.I64();
  if (in.ok() && plan.arena_bytes < 0)
    in.Fail(absl::StrCat("arena of ", plan.arena_bytes, " bytes"));
  plan.buffers.resize(in.Count(4 + 5 + 1 + 8));
  for (PlanBuffer& b : plan.buffers) {
    b.name = in.Str();
    b.type = in.Type();
    const uint8_t kind = in.U8();
    if (in.ok() && kind > static_cast<uint8_t>(BufferKind::kParam))
      in.Fail(absl::StrCat("buffer '", b.name, "': unknown kind ", kind));
    b.kind = static_cast<BufferKind>(kind);
    b.offset = in.I64();
    if (!in.ok()) break;
  }
  const size_t nb = plan.buffers.size();
  plan.steps.resize(in.Count(4 + 4 + 4 + 4 * 3 + 16 + 4));
  for (PlanStep& s : plan.steps) {
    s.node_name = in.Str();
    const std::string op_name = in.Str();
    if (!in.ok()) break;
    const std::optional<OpKind> op = ParseOpName(op_name);
    if (!op.has_value()) {
      in.Fail(absl::StrCat("step '", s.node_name, "': unknown op '", op_name, "'"));
      break;
    }
    s.op = *op;
    s.attrs = DecodeAttrs(in);
    s.inputs = DecodeIndices(in, nb);
    s.outputs = DecodeIndices(in, nb);
    s.workspace = DecodeIndices(in, nb);
    s.in_place_inputs = in.U32();
    s.in_place_input = DecodeOptionalIndex(in, s.inputs.size());
    s.writes_inputs = in.U32();
    s.update_run = static_cast<int32_t>(in.U32());
    s.notes = in.Str();
    if (!in.ok()) break;
    const KernelDef* kernel = FindKernel(s.op, plan.device);
    if (kernel == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(op_name, " '", s.node_name, "': this program has no ",
                       std::string(DeviceName(plan.device)), " kernel for it"));
    }
    s.fn = kernel->fn;
    if (kernel->check_loaded != nullptr) {
      if (absl::Status st = kernel->check_loaded(plan, s); !st.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(op_name, " '", s.node_name, "': ", st.message()));
      }
    }
  }
  plan.inputs = DecodeIndices(in, nb);
  plan.outputs = DecodeIndices(in, nb);
  MemoryReport& m = plan.memory;
  m.planned = in.U8() != 0;
  m.reuse = in.U8() != 0;
  m.arena_bytes = in.I64();
  m.lower_bound_bytes = in.I64();
  m.naive_bytes = in.I64();
  m.num_buffers = static_cast<int32_t>(in.U32());
  m.num_in_place = static_cast<int32_t>(in.U32());
  m.schedule = in.Str();
  GruResidency& r = plan.gru_residency;
  r.analyzed = in.U8() != 0;
  r.layers.resize(in.Count(12 + 16));
  for (ResidentGruLayer& l : r.layers) {
    l.kernel = in.Index(nb);
    l.recurrent_kernel = in.Index(nb);
    l.bias = in.Index(nb);
    l.input_size = in.I64();
    l.hidden_size = in.I64();
  }
  const size_t num_resident = in.Count(12);
  for (size_t i = 0; i < num_resident && in.ok(); ++i) {
    const int buffer = in.Index(nb);
    const int layer = in.Index(r.layers.size());
    const int param = in.Index(3);
    r.buffers[buffer] = ResidentGruBuffer{layer, param};
  }
  r.refused.resize(in.Count(4));
  for (std::string& why : r.refused) why = in.Str();
  if (!in.ok()) return absl::InvalidArgumentError(absl::StrCat("plan section ", in.error()));
  for (int i : plan.inputs) {
    if (plan.buffers[i].kind != BufferKind::kInput)
      return absl::InvalidArgumentError(absl::StrCat("plan input ", i, " is not an input buffer"));
  }
  return plan;
}

}  // namespace rill

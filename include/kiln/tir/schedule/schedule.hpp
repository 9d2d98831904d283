// kiln/tir/schedule/schedule.hpp: tir::Schedule, the user-facing handle for scheduling a PrimFunc.
//
// The IR is functional: every primitive builds a new PrimFunc, so func() taken before a
// primitive stays valid and unchanged. Handles (BlockRV, LoopRV) are ids into the schedule's
// table: a block is found by its name (unique within the function), a loop by its loop Var. A
// refused primitive throws kiln::UserError and leaves the function and the trace unchanged.
#pragma once
#include <array>
#include <initializer_list>
#include <type_traits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kiln/ir/printer.hpp"
#include "kiln/tir/schedule/instruction.hpp"
#include "kiln/tir/schedule/primitives/annotate.hpp"
#include "kiln/tir/schedule/primitives/loop_transform.hpp"
#include "kiln/tir/schedule/state.hpp"
#include "kiln/tir/schedule/trace.hpp"

namespace kiln::tir {

class IndexMap;  // kiln/tir/index_map.hpp
// Which of a block's buffer lists an index refers to (its reads or its writes).
enum class BufferIndexType { Read, Write };

class Schedule {
 public:
  explicit Schedule(ir::PrimFunc f, std::string name = "main") : name_(std::move(name)) {
    KILN_USER_CHECK(f.defined() && f->body.defined(), "tir::Schedule needs a PrimFunc with a body");
    schedule_detail::check_unique_block_names(f);
    func_ = std::move(f);
  }
  // Schedules the module's only PrimFunc, or the one named `name` when given.
  explicit Schedule(const ir::IRModule& mod, std::string name = "") : Schedule(pick(mod, name), pick_name(mod, name)) {}

  const ir::PrimFunc& func() const { return func_; }
  ir::IRModule mod() const { return ir::IRModule::from_prim_func(func_, name_); }
  const Trace& trace() const { return trace_; }
  // What a handle names (not recorded in the trace: it does not change anything).
  const std::string& block_name(const BlockRV& b) const { return schedule_detail::block_of(locate(b, "block_name").stmt)->name; }
  std::string loop_name(const LoopRV& l) const { return loop_var(l, "loop_name").name(); }

  // ---- lookup ---------------------------------------------------------------------------------
  BlockRV get_block(const std::string& name) {
    if (!schedule_detail::find_block(func_, name).found())
      user_error("get_block: no block named '", name, "'; the blocks are ", schedule_detail::block_names(func_));
    BlockRV b = new_block(name);
    record("get_block", {TraceValue::str(name)}, {TraceValue::block(b.id)});
    return b;
  }

  std::vector<LoopRV> get_loops(const BlockRV& b) {
    auto loc = locate(b, "get_loops");
    std::vector<LoopRV> out;
    std::vector<TraceValue> outs;
    for (auto& l : schedule_detail::enclosing_loops(loc.ancestors)) {
      out.push_back(new_loop(l.as<ir::ForNode>()->loop_var));
      outs.push_back(TraceValue::loop(out.back().id));
    }
    record("get_loops", {TraceValue::block(b.id)}, outs);
    return out;
  }
  template <size_t N>
  std::array<LoopRV, N> get_loops(const BlockRV& b) {
    auto loc = locate(b, "get_loops");
    auto loops = schedule_detail::enclosing_loops(loc.ancestors);
    if (loops.size() != N)
      user_error("get_loops<", N, ">: block '", entry(b.id, "get_loops").block, "' has ", loops.size(), " loops (",
                 schedule_detail::loop_names(loops), "), not ", N, "; use get_loops<", loops.size(),
                 "> or get_loops(block), which returns a std::vector");
    return to_array<N>(get_loops(b), "get_loops");
  }

  std::vector<BlockRV> get_child_blocks(const BlockRV& b) {
    return record_blocks("get_child_blocks", TraceValue::block(b.id), schedule_detail::child_blocks(locate(b, "get_child_blocks").stmt));
  }
  std::vector<BlockRV> get_child_blocks(const LoopRV& l) {
    return record_blocks("get_child_blocks", TraceValue::loop(l.id), schedule_detail::child_blocks(locate(l, "get_child_blocks").stmt));
  }
  // Blocks of the same scope that run before `b` and write a buffer it reads.
  std::vector<BlockRV> get_producers(const BlockRV& b) { return deps(b, true); }
  // Blocks of the same scope that run after `b` and read a buffer it writes.
  std::vector<BlockRV> get_consumers(const BlockRV& b) { return deps(b, false); }
  // Blocks of the root scope that write a parameter buffer of the function.
  std::vector<BlockRV> get_output_blocks() {
    std::vector<ir::Stmt> out;
    for (auto& r : schedule_detail::child_blocks(root()))
      for (auto& w : schedule_detail::block_of(r)->writes)
        if (is_param(w.buffer)) {
          out.push_back(r);
          break;
        }
    return record_blocks("get_output_blocks", std::nullopt, out);
  }

#define KILN_SCHEDULE_ARRAY_VARIANT(name, ...)                                   \
  template <size_t N>                                                            \
  std::array<BlockRV, N> name(__VA_ARGS__)
  KILN_SCHEDULE_ARRAY_VARIANT(get_child_blocks, const BlockRV& b) { return to_array<N>(get_child_blocks(b), "get_child_blocks"); }
  KILN_SCHEDULE_ARRAY_VARIANT(get_child_blocks, const LoopRV& l) { return to_array<N>(get_child_blocks(l), "get_child_blocks"); }
  KILN_SCHEDULE_ARRAY_VARIANT(get_producers, const BlockRV& b) { return to_array<N>(get_producers(b), "get_producers"); }
  KILN_SCHEDULE_ARRAY_VARIANT(get_consumers, const BlockRV& b) { return to_array<N>(get_consumers(b), "get_consumers"); }
  KILN_SCHEDULE_ARRAY_VARIANT(get_output_blocks) { return to_array<N>(get_output_blocks(), "get_output_blocks"); }
#undef KILN_SCHEDULE_ARRAY_VARIANT

  // ---- loop transformations --------------------------------------------------------------------
  // Splits a loop into factors.size() nested loops, outermost first. At most one factor may be
  // std::nullopt (inferred: the extent divided by the others, rounded up). When the factors do
  // not divide the extent, the blocks under the loop get a predicate so no extra iteration runs.
  std::vector<LoopRV> split(const LoopRV& l, const std::vector<std::optional<int64_t>>& factors) {
    ir::Var v = loop_var(l, "split");
    auto r = schedule_detail::split(func_, v, factors);
    func_ = r.func;
    std::vector<TraceValue> ins{TraceValue::loop(l.id)}, outs;
    for (auto& x : factors) ins.push_back(x ? TraceValue::integer(*x) : TraceValue::null());
    std::vector<LoopRV> out;
    for (auto& nv : r.loops) {
      out.push_back(new_loop(nv));
      outs.push_back(TraceValue::loop(out.back().id));
    }
    record("split", ins, outs);
    return out;
  }
  template <size_t N>
  std::array<LoopRV, N> split(const LoopRV& l, const std::vector<std::optional<int64_t>>& factors) {
    if (factors.size() != N)
      user_error("split<", N, ">: ", factors.size(), " factors were given for ", N, " loops; give exactly ", N, " factors");
    return to_array<N>(split(l, factors), "split");
  }

  // Fuses consecutive, perfectly nested loops (outermost first) into one.
  LoopRV fuse(const std::vector<LoopRV>& loops) {
    KILN_USER_CHECK(!loops.empty(), "fuse: needs at least one loop");
    std::vector<ir::Var> vars;
    std::vector<TraceValue> ins;
    for (auto& l : loops) {
      vars.push_back(loop_var(l, "fuse"));
      ins.push_back(TraceValue::loop(l.id));
    }
    ir::Var fused;
    func_ = schedule_detail::fuse(func_, vars, &fused);
    LoopRV out = new_loop(fused);
    record("fuse", ins, {TraceValue::loop(out.id)});
    return out;
  }

  // Puts the given loops, which must lie in one perfect loop nest, in the given order; loops of
  // that nest not given keep their places.
  void reorder(const std::vector<LoopRV>& loops) {
    KILN_USER_CHECK(!loops.empty(), "reorder: needs at least one loop");
    std::vector<ir::Var> vars;
    std::vector<TraceValue> ins;
    for (auto& l : loops) {
      vars.push_back(loop_var(l, "reorder"));
      ins.push_back(TraceValue::loop(l.id));
    }
    func_ = schedule_detail::reorder(func_, vars);
    record("reorder", ins, {});
  }

  // A new loop of extent 1 directly around a block or a loop.
  LoopRV add_unit_loop(const BlockRV& b) { return unit_loop(locate(b, "add_unit_loop").stmt, TraceValue::block(b.id)); }
  LoopRV add_unit_loop(const LoopRV& l) { return unit_loop(locate(l, "add_unit_loop").stmt, TraceValue::loop(l.id)); }

  // ---- loop kinds ------------------------------------------------------------------------------
  void parallel(const LoopRV& l) { kind(l, ir::ForKind::Parallel, "parallel", {}); }
  void vectorize(const LoopRV& l) { kind(l, ir::ForKind::Vectorized, "vectorize", {}); }
  void unroll(const LoopRV& l) { kind(l, ir::ForKind::Unrolled, "unroll", {}); }
  void bind(const LoopRV& l, const std::string& thread_axis) { kind(l, ir::ForKind::ThreadBinding, "bind", thread_axis); }

  // ---- annotations -----------------------------------------------------------------------------
  void annotate(const LoopRV& l, const std::string& key, int64_t v) { ann(TraceValue::loop(l.id), key, TraceValue::integer(v)); }
  void annotate(const LoopRV& l, const std::string& key, int v) { annotate(l, key, int64_t(v)); }
  void annotate(const LoopRV& l, const std::string& key, double v) { ann(TraceValue::loop(l.id), key, TraceValue::real(v)); }
  void annotate(const LoopRV& l, const std::string& key, std::string v) { ann(TraceValue::loop(l.id), key, TraceValue::str(std::move(v))); }
  void annotate(const LoopRV& l, const std::string& key, const char* v) { annotate(l, key, std::string(v)); }
  void annotate(const BlockRV& b, const std::string& key, int64_t v) { ann(TraceValue::block(b.id), key, TraceValue::integer(v)); }
  void annotate(const BlockRV& b, const std::string& key, int v) { annotate(b, key, int64_t(v)); }
  void annotate(const BlockRV& b, const std::string& key, double v) { ann(TraceValue::block(b.id), key, TraceValue::real(v)); }
  void annotate(const BlockRV& b, const std::string& key, std::string v) { ann(TraceValue::block(b.id), key, TraceValue::str(std::move(v))); }
  void annotate(const BlockRV& b, const std::string& key, const char* v) { annotate(b, key, std::string(v)); }
  void unannotate(const LoopRV& l, const std::string& key) { unann(TraceValue::loop(l.id), key); }
  void unannotate(const BlockRV& b, const std::string& key) { unann(TraceValue::block(b.id), key); }

  // ---- declared here, defined in primitives/<file>.hpp (included at the end of this file) ------
  // loops (primitives/loop_partition.hpp)
  LoopRV merge(const std::vector<LoopRV>& loops);
  std::vector<LoopRV> loop_partition(const LoopRV& loop, const std::vector<std::optional<int64_t>>& factors);
  // compute location (primitives/compute_location.hpp)
  void compute_at(const BlockRV& block, const LoopRV& loop, bool preserve_unit_loops = false);
  void reverse_compute_at(const BlockRV& block, const LoopRV& loop, bool preserve_unit_loops = false);
  void compute_inline(const BlockRV& block);
  void reverse_compute_inline(const BlockRV& block);
  // data movement and storage (primitives/cache.hpp)
  BlockRV cache_read(const BlockRV& block, int64_t read_buffer_index, const std::string& storage_scope);
  BlockRV cache_write(const BlockRV& block, int64_t write_buffer_index, const std::string& storage_scope);
  std::vector<BlockRV> cache_inplace(const BlockRV& block, int64_t read_buffer_index, const std::string& storage_scope);
  BlockRV reindex(const BlockRV& block, BufferIndexType type, int64_t buffer_index);
  void set_scope(const BlockRV& block, int64_t write_buffer_index, const std::string& storage_scope);
  void storage_align(const BlockRV& block, int64_t write_buffer_index, int64_t axis, int64_t factor, int64_t offset);
  // layout (primitives/layout.hpp, padding.hpp, rolling_buffer.hpp)
  void transform_layout(const BlockRV& block, BufferIndexType type, int64_t buffer_index, const IndexMap& index_map,
                        std::optional<double> pad_value = std::nullopt);
  void transform_block_layout(const BlockRV& block, const IndexMap& index_map);
  void pad_einsum(const BlockRV& block, const std::vector<int64_t>& padding);
  BlockRV decompose_padding(const BlockRV& block, const LoopRV& loop);
  void rolling_buffer(const BlockRV& block, int64_t write_buffer_index);
  // reductions (primitives/reduction.hpp)
  BlockRV decompose_reduction(const BlockRV& block, const LoopRV& loop);
  BlockRV rfactor(const LoopRV& loop, int64_t factor_axis);
  // blocks and tensor intrinsics (primitives/blockize_tensorize.hpp)
  BlockRV blockize(const LoopRV& loop, bool preserve_unit_iters = true);
  void tensorize(const LoopRV& loop, const std::string& intrin, bool preserve_unit_iters = true);
  void tensorize(const BlockRV& block, const std::string& intrin, bool preserve_unit_iters = true);
  // sampling, for the tuner (primitives/sampling.hpp). The schedule's random state is seeded, so
  // the same seed samples the same schedule; a sampling call records its decision in the trace
  // and replay makes the same choice.
  void seed(int64_t seed);
  int64_t fork_seed();
  std::vector<ExprRV> sample_perfect_tile(const LoopRV& loop, int64_t n, int64_t max_innermost_factor = 16,
                                          std::optional<std::vector<int64_t>> decision = std::nullopt);
  ExprRV sample_categorical(const std::vector<int64_t>& candidates, const std::vector<double>& probs,
                            std::optional<int64_t> decision = std::nullopt);
  LoopRV sample_compute_location(const BlockRV& block, std::optional<int64_t> decision = std::nullopt);
  // Splits by sampled factors (recorded as kind "split" with expr-handle inputs). split(loop,
  // {v3, v4}) and split(loop, tiles) with a std::vector<ExprRV> both land in split_sampled; the
  // overloads are shaped so that split(loop, {8}) still means a constant factor.
  std::vector<LoopRV> split_sampled(const LoopRV& loop, const std::vector<ExprRV>& factors);
  std::vector<LoopRV> split(const LoopRV& loop, std::initializer_list<ExprRV> factors) {
    return split_sampled(loop, std::vector<ExprRV>(factors));
  }
  template <class Range>
    requires std::is_same_v<typename Range::value_type, ExprRV>
  std::vector<LoopRV> split(const LoopRV& loop, const Range& factors) {
    return split_sampled(loop, std::vector<ExprRV>(factors.begin(), factors.end()));
  }
  template <size_t N>
  std::array<LoopRV, N> split(const LoopRV& l, std::initializer_list<ExprRV> factors) {
    return to_array<N>(split(l, factors), "split");
  }
  template <size_t N, class Range>
    requires std::is_same_v<typename Range::value_type, ExprRV>
  std::array<LoopRV, N> split(const LoopRV& l, const Range& factors) {
    return to_array<N>(split(l, factors), "split");
  }
  // The value a sampling primitive chose.
  int64_t get(const ExprRV& v) const {
    const Entry& e = entry(v.id, "get");
    KILN_USER_CHECK(e.is_expr, "get: handle ", v.id, " is a ", e.is_block ? "block" : "loop", ", not a sampled integer");
    return e.value;
  }

  // ---- replay ----------------------------------------------------------------------------------
  // Runs one recorded instruction; `rvs` maps the trace's handle ids to this schedule's.
  void apply(const Instruction& in, std::map<int64_t, int64_t>& rvs) {
    auto rv = [&](size_t j) -> int64_t {
      KILN_USER_CHECK(j < in.inputs.size() && in.inputs[j].is_rv(), "trace: instruction '", in.kind, "' input ", j,
                      " should be a block or loop handle");
      auto it = rvs.find(in.inputs[j].i);
      KILN_USER_CHECK(it != rvs.end(), "trace: instruction '", in.kind, "' uses handle ", in.inputs[j].i,
                      " before any instruction created it");
      return it->second;
    };
    auto attr = [&](size_t j, TraceValue::Kind k) -> const TraceValue& {
      KILN_USER_CHECK(j < in.inputs.size() && in.inputs[j].kind == k, "trace: instruction '", in.kind, "' input ", j,
                      " has the wrong kind");
      return in.inputs[j];
    };
    auto is_block = [&](size_t j) { return j < in.inputs.size() && in.inputs[j].kind == TraceValue::Kind::Block; };
    std::vector<int64_t> outs;
    auto blocks = [&](const std::vector<BlockRV>& v) { for (auto& b : v) outs.push_back(b.id); };
    auto loops = [&](const std::vector<LoopRV>& v) { for (auto& l : v) outs.push_back(l.id); };
    auto loop_list = [&]() {
      std::vector<LoopRV> v;
      for (size_t j = 0; j < in.inputs.size(); ++j) v.push_back(LoopRV{rv(j)});
      return v;
    };
    const std::string& k = in.kind;
    if (k == "get_block") outs.push_back(get_block(attr(0, TraceValue::Kind::Str).s).id);
    else if (k == "get_loops") loops(get_loops(BlockRV{rv(0)}));
    else if (k == "get_child_blocks") blocks(is_block(0) ? get_child_blocks(BlockRV{rv(0)}) : get_child_blocks(LoopRV{rv(0)}));
    else if (k == "get_producers") blocks(get_producers(BlockRV{rv(0)}));
    else if (k == "get_consumers") blocks(get_consumers(BlockRV{rv(0)}));
    else if (k == "get_output_blocks") blocks(get_output_blocks());
    else if (k == "split" && in.inputs.size() > 1 && in.inputs[1].kind == TraceValue::Kind::Expr) {
      ReplayInputs args(in, rvs);
      std::vector<ExprRV> factors;
      for (size_t j = 1; j < in.inputs.size(); ++j) factors.push_back(args.expr(j));
      loops(split_sampled(LoopRV{rv(0)}, factors));
    } else if (k == "split") {
      std::vector<std::optional<int64_t>> factors;
      for (size_t j = 1; j < in.inputs.size(); ++j)
        factors.push_back(in.inputs[j].kind == TraceValue::Kind::Null ? std::nullopt
                                                                      : std::optional<int64_t>(attr(j, TraceValue::Kind::Int).i));
      loops(split(LoopRV{rv(0)}, factors));
    } else if (k == "fuse") outs.push_back(fuse(loop_list()).id);
    else if (k == "reorder") reorder(loop_list());
    else if (k == "add_unit_loop") outs.push_back(is_block(0) ? add_unit_loop(BlockRV{rv(0)}).id : add_unit_loop(LoopRV{rv(0)}).id);
    else if (k == "parallel") parallel(LoopRV{rv(0)});
    else if (k == "vectorize") vectorize(LoopRV{rv(0)});
    else if (k == "unroll") unroll(LoopRV{rv(0)});
    else if (k == "bind") bind(LoopRV{rv(0)}, attr(1, TraceValue::Kind::Str).s);
    else if (k == "annotate" || k == "unannotate") {
      TraceValue target = in.inputs.empty() ? TraceValue() : in.inputs[0];
      target.i = rv(0);
      const std::string& key = attr(1, TraceValue::Kind::Str).s;
      if (k == "annotate") {
        KILN_USER_CHECK(in.inputs.size() == 3, "trace: 'annotate' needs 3 inputs");
        ann(target, key, in.inputs[2]);
      } else unann(target, key);
    } else if (const InstructionKind* reg = find_instruction(k)) {
      outs = reg->replay(*this, ReplayInputs(in, rvs));
    } else
      user_error("trace: unknown instruction kind '", k, "'; known: get_block, get_loops, get_child_blocks, ",
                 "get_producers, get_consumers, get_output_blocks, split, fuse, reorder, add_unit_loop, parallel, ",
                 "vectorize, unroll, bind, annotate, unannotate, ", instruction_kind_names());
    KILN_USER_CHECK(outs.size() == in.outputs.size(), "trace: instruction '", k, "' produced ", outs.size(),
                    " handles on replay but ", in.outputs.size(), " when recorded; the trace does not fit this function");
    for (size_t j = 0; j < outs.size(); ++j) rvs[in.outputs[j].i] = outs[j];
  }

 private:
  struct Entry {
    bool is_block;
    std::string block;
    ir::Var loop;
    bool is_expr = false;
    int64_t value = 0;
  };
  std::string name_;
  ir::PrimFunc func_;
  Trace trace_;
  std::vector<Entry> rvs_;
  uint64_t rand_state_ = 1;  // the sampling primitives' random state (see seed, fork_seed)

  static ir::PrimFunc pick(const ir::IRModule& mod, const std::string& name) { return mod.prim_func(pick_name(mod, name)); }
  static std::string pick_name(const ir::IRModule& mod, const std::string& name) {
    if (!name.empty()) return name;
    std::string found, all;
    int count = 0;
    for (auto& [k, f] : mod.functions())
      if (f->kind == ir::FuncKind::Prim) {
        found = k;
        all += (all.empty() ? "'" : ", '") + k + "'";
        ++count;
      }
    if (count != 1)
      user_error("tir::Schedule: the module has ", count, " PrimFuncs (", all.empty() ? "none" : all,
                 "); name the one to schedule: tir::Schedule(mod, \"main\")");
    return found;
  }

  BlockRV new_block(const std::string& name) {
    rvs_.push_back({true, name, {}});
    return BlockRV{int64_t(rvs_.size() - 1)};
  }
  LoopRV new_loop(const ir::Var& v) {
    rvs_.push_back({false, {}, v});
    return LoopRV{int64_t(rvs_.size() - 1)};
  }
  ExprRV new_expr(int64_t value) {
    rvs_.push_back({false, {}, {}, true, value});
    return ExprRV{int64_t(rvs_.size() - 1)};
  }
  const Entry& entry(int64_t id, const char* prim) const {
    if (id < 0 || size_t(id) >= rvs_.size())
      user_error(prim, ": handle ", id, " does not belong to this schedule; use handles returned by its own get_block, ",
                 "get_loops, split, ...");
    return rvs_[size_t(id)];
  }
  schedule_detail::Located locate(const BlockRV& b, const char* prim) const {
    const Entry& e = entry(b.id, prim);
    KILN_USER_CHECK(e.is_block, prim, ": handle ", b.id, " is a ", e.is_expr ? "sampled integer" : "loop", ", not a block");
    auto loc = schedule_detail::find_block(func_, e.block);
    if (!loc.found()) user_error(prim, ": block '", e.block, "' no longer exists in the function");
    return loc;
  }
  schedule_detail::Located locate(const LoopRV& l, const char* prim) const {
    const Entry& e = entry(l.id, prim);
    KILN_USER_CHECK(!e.is_block && !e.is_expr, prim, ": handle ", l.id, " is a ", e.is_block ? "block" : "sampled integer",
                    ", not a loop");
    auto loc = schedule_detail::find_loop(func_, e.loop);
    if (!loc.found())
      user_error(prim, ": loop '", e.loop.name(), "' no longer exists in the function: a split or fuse replaced it; ",
                 "use the loops that primitive returned (or get_loops again)");
    return loc;
  }
  schedule_detail::Located locate(const TraceValue& t, const char* prim) const {
    return t.kind == TraceValue::Kind::Block ? locate(BlockRV{t.i}, prim) : locate(LoopRV{t.i}, prim);
  }
  ir::Var loop_var(const LoopRV& l, const char* prim) const { return locate(l, prim).stmt.as<ir::ForNode>()->loop_var; }

  void record(std::string kind, std::vector<TraceValue> ins, std::vector<TraceValue> outs,
              std::vector<int64_t> decision = {}) {
    trace_.append(Instruction{std::move(kind), std::move(ins), std::move(outs), std::move(decision)});
  }
  std::vector<BlockRV> record_blocks(const char* kind, std::optional<TraceValue> in, const std::vector<ir::Stmt>& blocks) {
    std::vector<BlockRV> out;
    std::vector<TraceValue> outs;
    for (auto& r : blocks) {
      out.push_back(new_block(schedule_detail::block_of(r)->name));
      outs.push_back(TraceValue::block(out.back().id));
    }
    record(kind, in ? std::vector<TraceValue>{*in} : std::vector<TraceValue>{}, outs);
    return out;
  }
  template <size_t N, typename T>
  static std::array<T, N> to_array(const std::vector<T>& v, const char* prim) {
    if (v.size() != N)
      user_error(prim, "<", N, ">: the result has ", v.size(), " elements, not ", N, "; use the form without <N>, ",
                 "which returns a std::vector");
    std::array<T, N> a;
    for (size_t i = 0; i < N; ++i) a[i] = v[i];
    return a;
  }

  ir::Stmt root() const {
    auto blocks = schedule_detail::all_blocks(func_);
    KILN_USER_CHECK(!blocks.empty(), "tir::Schedule: the function has no root block");
    return blocks[0].stmt;
  }
  bool is_param(const ir::Buffer& b) const {
    for (auto& p : func_->param_buffers)
      if (p.same_as(b)) return true;
    return false;
  }
  static bool touches(const std::vector<ir::BufferRegion>& rs, const std::vector<ir::BufferRegion>& ws) {
    for (auto& r : rs)
      for (auto& w : ws)
        if (r.buffer.same_as(w.buffer)) return true;
    return false;
  }
  std::vector<BlockRV> deps(const BlockRV& b, bool producers) {
    const char* prim = producers ? "get_producers" : "get_consumers";
    auto loc = locate(b, prim);
    // The scope: the nearest block around b.
    ir::Stmt scope;
    for (size_t i = loc.ancestors.size(); i-- > 0 && !scope.defined();)
      if (loc.ancestors[i].as<ir::BlockNode>() && i > 0) scope = loc.ancestors[i - 1];
    std::vector<ir::Stmt> out;
    const ir::BlockNode* me = schedule_detail::block_of(loc.stmt);
    if (scope.defined()) {
      auto siblings = schedule_detail::child_blocks(scope);
      bool before = true;
      for (auto& s : siblings) {
        const ir::BlockNode* o = schedule_detail::block_of(s);
        if (o == me) {
          before = false;
          continue;
        }
        if (producers && before && touches(me->reads, o->writes)) out.push_back(s);
        if (!producers && !before && touches(o->reads, me->writes)) out.push_back(s);
      }
    }
    return record_blocks(prim, TraceValue::block(b.id), out);
  }

  LoopRV unit_loop(const ir::Stmt& target, TraceValue in) {
    ir::Var v("u", DataType::int_(64));
    if (auto* l = target.as<ir::ForNode>()) v = ir::Var("u", l->loop_var.dtype());
    func_ = schedule_detail::add_unit_loop(func_, target, v);
    LoopRV out = new_loop(v);
    record("add_unit_loop", {in}, {TraceValue::loop(out.id)});
    return out;
  }
  void kind(const LoopRV& l, ir::ForKind k, const char* prim, const std::string& tag) {
    func_ = schedule_detail::set_loop_kind(func_, loop_var(l, prim), k, tag);
    std::vector<TraceValue> ins{TraceValue::loop(l.id)};
    if (k == ir::ForKind::ThreadBinding) ins.push_back(TraceValue::str(tag));
    record(prim, ins, {});
  }
  static ir::Expr to_expr(const TraceValue& v) {
    switch (v.kind) {
      case TraceValue::Kind::Int: return ir::int_imm(v.i, DataType::int_(64));
      case TraceValue::Kind::Float: return ir::float_imm(v.f, DataType::float_(64));
      case TraceValue::Kind::Str: return ir::string_imm(v.s);
      default: user_error("annotate: an annotation value must be an integer, a float or a string");
    }
  }
  void ann(const TraceValue& target, const std::string& key, const TraceValue& value) {
    func_ = schedule_detail::annotate(func_, locate(target, "annotate").stmt, key, to_expr(value));
    record("annotate", {target, TraceValue::str(key), value}, {});
  }
  void unann(const TraceValue& target, const std::string& key) {
    func_ = schedule_detail::unannotate(func_, locate(target, "unannotate").stmt, key);
    record("unannotate", {target, TraceValue::str(key)}, {});
  }
};

inline void Trace::apply_to(Schedule& s) const {
  std::map<int64_t, int64_t> rvs;
  for (auto& in : insts_) s.apply(in, rvs);
}
inline ir::PrimFunc Trace::apply_to(const ir::PrimFunc& f) const {
  Schedule s(f);
  apply_to(s);
  return s.func();
}

}  // namespace kiln::tir

// The primitives defined out of class (each registers its trace instruction kinds).
#include "kiln/tir/schedule/primitives/blockize_tensorize.hpp"
#include "kiln/tir/schedule/primitives/cache.hpp"
#include "kiln/tir/schedule/primitives/compute_location.hpp"
#include "kiln/tir/schedule/primitives/layout.hpp"
#include "kiln/tir/schedule/primitives/loop_partition.hpp"
#include "kiln/tir/schedule/primitives/padding.hpp"
#include "kiln/tir/schedule/primitives/reduction.hpp"
#include "kiln/tir/schedule/primitives/rolling_buffer.hpp"
#include "kiln/tir/schedule/primitives/sampling.hpp"

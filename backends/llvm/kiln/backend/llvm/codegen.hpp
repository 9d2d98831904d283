// kiln/backend/llvm/codegen.hpp: lowered kiln IR -> LLVM IR.
//
// Input is the lowered form (kiln/tir/lower.hpp): no blocks, 1-D buffers, Allocate for
// intermediates. Each PrimFunc becomes
//   int32_t <symbol>(void** args)         the kernel ABI (kiln/backend/llvm.hpp)
// which unpacks args and calls an internal `<symbol>.body` whose buffer pointers are noalias and
// aligned, so the optimizer knows what TVM/Halide kernels know. Numerics follow the brief exactly:
// no nsw/nuw, no fast-math flags, no FP contraction, integer division that never traps.
#pragma once
#include <llvm/IR/BasicBlock.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Metadata.h>
#include <llvm/IR/Module.h>

#include <cstring>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kiln/backend/llvm/runtime_support.hpp"
#include "kiln/ir/functor.hpp"
#include "kiln/ir/intrinsics.hpp"
#include "kiln/tir/bind_args.hpp"

namespace kiln::backend::llvm {

namespace detail {

// Variables a statement uses (including buffer data handles and Allocate sizes), in first-use
// order: what a parallel loop body must capture.
class UsedVars : public ir::StmtExprVisitor {
 public:
  using ir::StmtExprVisitor::visit;
  std::vector<ir::Var> vars;
  void visit_var(const ir::VarNode&, const ir::Expr& e) override { add(e); }
  void visit_buffer_load(const ir::BufferLoadNode& n) override {
    add(n.buffer->data);
    ir::StmtExprVisitor::visit_buffer_load(n);
  }
  void visit_buffer_store(const ir::BufferStoreNode& n) override {
    add(n.buffer->data);
    ir::StmtExprVisitor::visit_buffer_store(n);
  }
  void visit_allocate(const ir::AllocateNode& n) override {
    for (auto& s : n.buffer->shape) visit(s);
    ir::StmtExprVisitor::visit_allocate(n);
  }

 private:
  void add(const ir::Expr& e) {
    if (seen_.insert(e.get()).second) vars.push_back(ir::Var(std::static_pointer_cast<const ir::VarNode>(e.ptr())));
  }
  std::unordered_set<const void*> seen_;
};

// Lane `lane` of a vector expression, as a scalar expression (for per-lane lazy evaluation).
// Vector variables become fresh scalar variables listed in `vector_vars` (scalar, vector original).
class ScalarizeLane : public ir::ExprMutator {
 public:
  explicit ScalarizeLane(int lane) : lane_(lane) {}
  std::vector<std::pair<ir::Var, ir::Var>> vector_vars;

  ir::Expr mutate(const ir::Expr& e) override {
    if (!e.defined() || e.dtype().lanes == 1) return e;
    switch (e.kind()) {
      case ir::ExprKind::Ramp: {
        auto* n = e.as<ir::RampNode>();
        return ir::add(n->base, ir::mul(n->stride, ir::int_imm(lane_, n->base.dtype())));
      }
      case ir::ExprKind::Broadcast: return e.as<ir::BroadcastNode>()->value;
      case ir::ExprKind::Cast: return ir::cast(e.dtype().element_of(), mutate(e.as<ir::CastNode>()->value));
      case ir::ExprKind::Call: {
        auto* n = e.as<ir::CallNode>();
        std::vector<ir::Expr> args;
        for (auto& a : n->args) args.push_back(mutate(a));
        return ir::call(e.dtype().element_of(), n->op, std::move(args));
      }
      case ir::ExprKind::Let: {
        auto* n = e.as<ir::LetNode>();
        ir::Expr v = mutate(n->value);
        if (n->var.dtype().lanes == 1) return ir::let(n->var, v, mutate(n->body));
        ir::Var s(n->var->name + "_lane", n->var.dtype().element_of());
        renamed_[n->var.get()] = s;
        return ir::let(s, v, mutate(n->body));
      }
      default: return ir::ExprMutator::mutate(e);
    }
  }
  ir::Expr mutate_var(const ir::Expr& e) override {
    if (e.dtype().lanes == 1) return e;
    if (auto it = renamed_.find(e.get()); it != renamed_.end()) return it->second;
    ir::Var s(static_cast<const ir::VarNode*>(e.get())->name + "_lane", e.dtype().element_of());
    renamed_[e.get()] = s;
    vector_vars.emplace_back(s, ir::Var(std::static_pointer_cast<const ir::VarNode>(e.ptr())));
    return s;
  }

 private:
  int lane_;
  std::unordered_map<const void*, ir::Var> renamed_;
};

// The LLVM intrinsics a function calls through ir::kCallLLVMIntrin, with the CPU features each
// needs (name, features), so a backend can check them against its target before LLVM selects
// instructions (LLVM aborts on an intrinsic the target lacks).
inline std::vector<std::pair<std::string, std::string>> llvm_intrinsic_features(const ir::PrimFunc& f) {
  struct V : ir::StmtExprVisitor {
    std::vector<std::pair<std::string, std::string>> out;
    using ir::StmtExprVisitor::visit;
    void visit(const ir::Expr& e) override {
      if (auto* c = e.defined() ? e.as<ir::CallNode>() : nullptr; c && c->op == ir::kCallLLVMIntrin && c->args.size() >= 2) {
        auto *name = c->args[0].as<ir::StringImmNode>(), *feats = c->args[1].as<ir::StringImmNode>();
        if (name && feats) out.push_back({name->value, feats->value});
      }
      ir::StmtExprVisitor::visit(e);
    }
  } v;
  v.visit(f->body);
  return v.out;
}

}  // namespace detail

// Addresses of the runtime helpers, by the symbol names the generated code uses.
struct RuntimeSymbols {
  static constexpr const char* alloc = "kiln_alloc";
  static constexpr const char* free = "kiln_free";
  static constexpr const char* parallel_for = "kiln_parallel_for";
};

class CodeGen {
 public:
  CodeGen(::llvm::LLVMContext& ctx, ::llvm::Module& module) : ctx_(ctx), mod_(module), b_(ctx) {}

  // Emits the kernel `symbol` (ABI wrapper) for the lowered function f.
  void add_function(const ir::PrimFunc& f, const std::string& symbol) {
    func_name_ = f->name;
    symbol_ = symbol;
    vars_.clear();
    ptr_align_.clear();
    // Internal body with typed parameters: pointers (noalias, aligned), scalars, shape vars.
    std::vector<ir::Var> params;
    std::vector<int> aligns;
    for (size_t i = 0; i < f->params.size(); ++i) {
      const ir::Buffer& buf = f->param_buffers[i];
      params.push_back(f->params[i]);
      if (buf.defined()) {
        KILN_ICHECK(buf->data.get() == f->params[i].get(), "param ", i, " of '", f->name,
                    "' is not its buffer's data handle");
        aligns.push_back(buf->align_bytes > 0 ? buf->align_bytes : storage_align(buf->dtype));
      } else {
        aligns.push_back(0);
      }
    }
    std::vector<ir::Var> shape_vars = tir::shape_vars(f);
    for (auto& v : shape_vars) {
      params.push_back(v);
      aligns.push_back(0);
    }
    ::llvm::Function* body = make_typed_function(symbol + ".body", params, aligns, [&] { emit(f->body); });

    // The ABI wrapper: int32_t symbol(void** args).
    auto* ptr_t = ::llvm::PointerType::get(ctx_, 0);
    auto* wrapper_t = ::llvm::FunctionType::get(b_.getInt32Ty(), {ptr_t}, false);
    auto* wrapper = ::llvm::Function::Create(wrapper_t, ::llvm::Function::ExternalLinkage, symbol, mod_);
    wrapper->addParamAttr(0, ::llvm::Attribute::NoAlias);
    b_.SetInsertPoint(::llvm::BasicBlock::Create(ctx_, "entry", wrapper));
    std::vector<::llvm::Value*> call_args;
    for (size_t i = 0; i < params.size(); ++i) {
      ::llvm::Value* slot = b_.CreateLoad(ptr_t, b_.CreateConstInBoundsGEP1_64(ptr_t, wrapper->getArg(0), i));
      DataType t = params[i].dtype();
      bool is_buffer = i < f->params.size() && f->param_buffers[i].defined();
      if (is_buffer || t.is_handle()) {
        call_args.push_back(slot);
      } else if (t.is_float()) {
        ::llvm::Value* d = b_.CreateLoad(b_.getDoubleTy(), slot);
        call_args.push_back(cast(d, DataType::float_(64), t));
      } else {
        ::llvm::Value* v = b_.CreateLoad(b_.getInt64Ty(), slot);
        call_args.push_back(cast(v, DataType::int_(64), t));
      }
    }
    b_.CreateRet(b_.CreateCall(body, call_args));
  }

 private:
  using Value = ::llvm::Value;
  using Type = ::llvm::Type;

  // ---- types ----------------------------------------------------------------------------------
  Type* scalar_type(DataType t) {
    switch (t.code) {
      case TypeCode::Bool: return b_.getInt1Ty();
      case TypeCode::Int:
      case TypeCode::UInt: return b_.getIntNTy(t.bits);
      case TypeCode::BFloat: return b_.getInt16Ty();  // bits; arithmetic goes through float32
      case TypeCode::Float:
        if (t.bits == 16) return b_.getHalfTy();
        if (t.bits == 32) return b_.getFloatTy();
        if (t.bits == 64) return b_.getDoubleTy();
        break;
      case TypeCode::Handle: return ::llvm::PointerType::get(ctx_, 0);
    }
    internal_error("no LLVM type for ", t.str());
  }
  Type* value_type(DataType t) {
    Type* s = scalar_type(t.element_of());
    return t.lanes > 1 ? ::llvm::FixedVectorType::get(s, t.lanes) : s;
  }
  // In memory bool is one byte.
  Type* storage_scalar_type(DataType t) { return t.is_bool() ? b_.getInt8Ty() : scalar_type(t.element_of()); }
  static int storage_align(DataType t) { return t.is_bool() ? 1 : std::max(1, t.bits / 8); }

  Value* zero_of(DataType t) { return ::llvm::Constant::getNullValue(value_type(t)); }

  // ---- functions ------------------------------------------------------------------------------
  // Creates an internal function `name(params...) -> i32` and emits its body with fresh variable
  // bindings; restores the builder afterwards. Pointer params get noalias + align.
  ::llvm::Function* make_typed_function(const std::string& name, const std::vector<ir::Var>& params,
                                        const std::vector<int>& aligns, const std::function<void()>& emit_body) {
    std::vector<Type*> types;
    for (auto& p : params) types.push_back(value_type(p.dtype()));
    auto* ft = ::llvm::FunctionType::get(b_.getInt32Ty(), types, false);
    auto* fn = ::llvm::Function::Create(ft, ::llvm::Function::InternalLinkage, name, mod_);
    fn->addFnAttr(::llvm::Attribute::NoUnwind);
    auto saved_vars = std::move(vars_);
    vars_.clear();  // a function sees only its parameters (parallel bodies capture what they use)
    auto saved_heap = std::move(heap_live_);
    heap_live_.clear();
    auto* saved_block = b_.GetInsertBlock();
    auto* saved_fn = fn_;
    fn_ = fn;
    for (size_t i = 0; i < params.size(); ++i) {
      ::llvm::Argument* a = fn->getArg(unsigned(i));
      a->setName(params[i]->name);
      if (params[i].dtype().is_handle()) {
        a->addAttr(::llvm::Attribute::NoAlias);
        if (aligns[i] > 1) a->addAttr(::llvm::Attribute::getWithAlignment(ctx_, ::llvm::Align(uint64_t(aligns[i]))));
      }
      vars_[params[i].get()] = a;
      if (aligns[i] > 0) ptr_align_[params[i].get()] = aligns[i];
    }
    b_.SetInsertPoint(::llvm::BasicBlock::Create(ctx_, "entry", fn));
    emit_body();
    b_.CreateRet(b_.getInt32(0));
    vars_ = std::move(saved_vars);
    heap_live_ = std::move(saved_heap);
    fn_ = saved_fn;
    if (saved_block) b_.SetInsertPoint(saved_block);
    return fn;
  }

  ::llvm::FunctionCallee runtime_function(const char* name, Type* ret, std::vector<Type*> args) {
    return mod_.getOrInsertFunction(name, ::llvm::FunctionType::get(ret, args, false));
  }

  // Returns `code` from the current function when `failed` holds, freeing the heap buffers of the
  // enclosing Allocate scopes first.
  void return_if(Value* failed, Value* code) {
    auto* bad = ::llvm::BasicBlock::Create(ctx_, "fail", fn_);
    auto* ok = ::llvm::BasicBlock::Create(ctx_, "ok", fn_);
    b_.CreateCondBr(failed, bad, ok);
    b_.SetInsertPoint(bad);
    for (auto it = heap_live_.rbegin(); it != heap_live_.rend(); ++it) b_.CreateCall(free_function(), {*it});
    b_.CreateRet(code);
    b_.SetInsertPoint(ok);
  }

  // ---- statements -----------------------------------------------------------------------------
  void emit(const ir::Stmt& s) {
    if (!s.defined()) return;
    switch (s.kind()) {
      case ir::StmtKind::For: return emit_for(*s.as<ir::ForNode>());
      case ir::StmtKind::BufferStore: return emit_store(*s.as<ir::BufferStoreNode>());
      case ir::StmtKind::Allocate: return emit_allocate(*s.as<ir::AllocateNode>());
      case ir::StmtKind::IfThenElse: {
        auto* n = s.as<ir::IfThenElseNode>();
        Value* c = scalar_cond(n->cond, "if");
        auto* then_bb = ::llvm::BasicBlock::Create(ctx_, "then", fn_);
        auto* else_bb = n->else_case.defined() ? ::llvm::BasicBlock::Create(ctx_, "else", fn_) : nullptr;
        auto* end_bb = ::llvm::BasicBlock::Create(ctx_, "endif", fn_);
        b_.CreateCondBr(c, then_bb, else_bb ? else_bb : end_bb);
        b_.SetInsertPoint(then_bb);
        emit(n->then_case);
        b_.CreateBr(end_bb);
        if (else_bb) {
          b_.SetInsertPoint(else_bb);
          emit(n->else_case);
          b_.CreateBr(end_bb);
        }
        b_.SetInsertPoint(end_bb);
        return;
      }
      case ir::StmtKind::Seq:
        for (auto& x : s.as<ir::SeqStmtNode>()->seq) emit(x);
        return;
      case ir::StmtKind::LetStmt: {
        auto* n = s.as<ir::LetStmtNode>();
        Value* v = expr(n->value);
        bind(n->var, v);
        emit(n->body);
        unbind(n->var);
        return;
      }
      case ir::StmtKind::Evaluate: expr(s.as<ir::EvaluateNode>()->value); return;
      case ir::StmtKind::Block:
      case ir::StmtKind::BlockRealize:
        internal_error("the LLVM backend got a TensorIR block in '", func_name_,
                       "'; it compiles lowered IR only (kiln::build lowers with tir::lower first)");
    }
  }

  void bind(const ir::Var& v, Value* val) {
    auto [it, fresh] = vars_.emplace(v.get(), val);
    KILN_ICHECK(fresh, "variable '", v->name, "' bound twice in '", func_name_, "'");
    (void)it;
  }
  void unbind(const ir::Var& v) { vars_.erase(v.get()); }

  ::llvm::MDNode* loop_metadata(const char* flag) {
    ::llvm::Metadata* hint =
        flag == std::string("llvm.loop.vectorize.enable")
            ? static_cast<::llvm::Metadata*>(::llvm::MDNode::get(
                  ctx_, {::llvm::MDString::get(ctx_, flag), ::llvm::ConstantAsMetadata::get(b_.getTrue())}))
            : ::llvm::MDNode::get(ctx_, {::llvm::MDString::get(ctx_, flag)});
    auto temp = ::llvm::MDNode::getTemporary(ctx_, {});
    ::llvm::MDNode* md = ::llvm::MDNode::getDistinct(ctx_, {temp.get(), hint});
    md->replaceOperandWith(0, md);
    return md;
  }

  // for (v = begin; v < end; ++v) body, in the current function.
  void emit_loop(const ir::Var& v, Value* begin, Value* end, ::llvm::MDNode* md, const std::function<void()>& body) {
    auto* pre = b_.GetInsertBlock();
    auto* header = ::llvm::BasicBlock::Create(ctx_, "for_" + v->name, fn_);
    auto* body_bb = ::llvm::BasicBlock::Create(ctx_, "for_body_" + v->name, fn_);
    auto* exit = ::llvm::BasicBlock::Create(ctx_, "for_end_" + v->name, fn_);
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    auto* phi = b_.CreatePHI(begin->getType(), 2, v->name);
    phi->addIncoming(begin, pre);
    b_.CreateCondBr(b_.CreateICmpSLT(phi, end), body_bb, exit);
    b_.SetInsertPoint(body_bb);
    bind(v, phi);
    body();
    unbind(v);
    Value* next = b_.CreateAdd(phi, ::llvm::ConstantInt::get(phi->getType(), 1));
    auto* br = b_.CreateBr(header);
    if (md) br->setMetadata(::llvm::LLVMContext::MD_loop, md);
    phi->addIncoming(next, b_.GetInsertBlock());
    b_.SetInsertPoint(exit);
  }

  void emit_for(const ir::ForNode& n) {
    DataType t = n.loop_var.dtype();
    KILN_USER_CHECK(t.is_integer() && t.is_scalar(), "loop variable '", n.loop_var->name, "' in '", func_name_,
                    "' has type ", t.str(), "; loop variables must be scalar integers");
    if (n.for_kind == ir::ForKind::ThreadBinding)
      user_error("loop '", n.loop_var->name, "' in '", func_name_, "' is bound to GPU thread axis '", n.thread_tag,
                 "', which needs a GPU target (\"cuda\" or \"vulkan\"); the llvm target runs on the CPU, so use "
                 "serial, parallel, vectorized or unrolled loops there");
    Value* mn = cast(expr(n.min), n.min.dtype(), t);
    Value* ext = cast(expr(n.extent), n.extent.dtype(), t);
    if (n.for_kind == ir::ForKind::Parallel) return emit_parallel_for(n, mn, ext);
    ::llvm::MDNode* md = nullptr;
    if (n.for_kind == ir::ForKind::Unrolled) md = loop_metadata("llvm.loop.unroll.full");
    if (n.for_kind == ir::ForKind::Vectorized) md = loop_metadata("llvm.loop.vectorize.enable");
    emit_loop(n.loop_var, mn, b_.CreateAdd(mn, ext), md, [&] { emit(n.body); });
  }

  // Outlines the body into int32_t body(int64_t begin, int64_t end, void* env) and runs it on the
  // thread pool through kiln_parallel_for. env is a struct of every value the body uses.
  void emit_parallel_for(const ir::ForNode& n, Value* mn, Value* ext) {
    detail::UsedVars used;
    used.visit(n.body);
    std::vector<ir::Var> captured;
    for (auto& v : used.vars)
      if (vars_.count(v.get())) captured.push_back(v);
    ir::Var min_var("min_" + n.loop_var->name, n.loop_var.dtype());
    captured.push_back(min_var);

    std::vector<Type*> field_types;
    for (auto& v : captured) field_types.push_back(v.get() == min_var.get() ? mn->getType() : vars_.at(v.get())->getType());
    auto* env_t = ::llvm::StructType::get(ctx_, field_types);
    std::string base = symbol_ + "." + n.loop_var->name + ".parallel" + std::to_string(parallel_count_++);

    // Inner function: (begin, end, captured...) with noalias pointers; loops over [begin, end).
    ir::Var begin_var("begin", DataType::int_(64)), end_var("end", DataType::int_(64));
    std::vector<ir::Var> inner_params = {begin_var, end_var};
    std::vector<int> aligns = {0, 0};
    for (auto& v : captured) {
      inner_params.push_back(v);
      auto it = ptr_align_.find(v.get());
      aligns.push_back(it == ptr_align_.end() ? 0 : it->second);
    }
    DataType t = n.loop_var.dtype();
    ::llvm::Function* inner = make_typed_function(base + ".inner", inner_params, aligns, [&] {
      Value* lo = cast(vars_.at(begin_var.get()), DataType::int_(64), t);
      Value* hi = cast(vars_.at(end_var.get()), DataType::int_(64), t);
      Value* m = vars_.at(min_var.get());
      ir::Var i("i_" + n.loop_var->name, t);
      emit_loop(i, lo, hi, nullptr, [&] {
        Value* idx = b_.CreateAdd(vars_.at(i.get()), m);
        bind(n.loop_var, idx);
        emit(n.body);
        unbind(n.loop_var);
      });
    });

    // Outer function with the kiln_parallel_for signature: unpacks env and calls inner.
    auto* ptr_t = ::llvm::PointerType::get(ctx_, 0);
    auto* body_t = ::llvm::FunctionType::get(b_.getInt32Ty(), {b_.getInt64Ty(), b_.getInt64Ty(), ptr_t}, false);
    auto* outer = ::llvm::Function::Create(body_t, ::llvm::Function::InternalLinkage, base, mod_);
    outer->addFnAttr(::llvm::Attribute::NoUnwind);
    {
      auto* saved = b_.GetInsertBlock();
      b_.SetInsertPoint(::llvm::BasicBlock::Create(ctx_, "entry", outer));
      std::vector<Value*> args = {outer->getArg(0), outer->getArg(1)};
      for (unsigned k = 0; k < captured.size(); ++k)
        args.push_back(b_.CreateLoad(field_types[k], b_.CreateStructGEP(env_t, outer->getArg(2), k)));
      b_.CreateRet(b_.CreateCall(inner, args));
      b_.SetInsertPoint(saved);
    }

    // Call site: fill env (an entry-block alloca), call the pool, propagate a failure code.
    ::llvm::AllocaInst* env = entry_alloca(env_t, nullptr, 8);
    for (unsigned k = 0; k < captured.size(); ++k) {
      Value* v = captured[k].get() == min_var.get() ? mn : vars_.at(captured[k].get());
      b_.CreateStore(v, b_.CreateStructGEP(env_t, env, k));
    }
    auto pfor = runtime_function(RuntimeSymbols::parallel_for, b_.getInt32Ty(), {b_.getInt64Ty(), ptr_t, ptr_t});
    Value* rc = b_.CreateCall(pfor, {cast(ext, t, DataType::int_(64)), outer, env});
    return_if(b_.CreateICmpNE(rc, b_.getInt32(0)), rc);
  }

  ::llvm::AllocaInst* entry_alloca(Type* t, Value* count, int align) {
    ::llvm::IRBuilder<> eb(&fn_->getEntryBlock(), fn_->getEntryBlock().begin());
    auto* a = eb.CreateAlloca(t, count);
    a->setAlignment(::llvm::Align(uint64_t(align)));
    return a;
  }

  void emit_allocate(const ir::AllocateNode& n) {
    const ir::Buffer& buf = n.buffer;
    DataType t = buf->dtype;
    KILN_ICHECK(t.is_scalar(), "Allocate of buffer '", buf->name, "' with vector element type ", t.str());
    int64_t elems = 1;
    bool constant = true;
    for (auto& s : buf->shape) {
      if (auto c = ir::const_int(s)) elems *= *c;
      else constant = false;
    }
    int64_t bytes = elems * t.bytes();
    if (constant && bytes <= 64 * 1024) {
      KILN_USER_CHECK(elems >= 0, "buffer '", buf->name, "' in '", func_name_, "' has a negative size");
      ::llvm::AllocaInst* a = entry_alloca(storage_scalar_type(t), b_.getInt64(uint64_t(std::max<int64_t>(elems, 1))), 64);
      bind(buf->data, a);
      ptr_align_[buf->data.get()] = 64;
      emit(n.body);
      unbind(buf->data);
      return;
    }
    // Heap: kiln_alloc(bytes) ... kiln_free(p) at the end of the scope. A negative dimension or
    // a size that overflows int64 asks for -1 bytes, which kiln_alloc refuses (out of memory).
    Value* size = b_.getInt64(uint64_t(t.bytes()));
    Value* bad = b_.getFalse();
    for (auto& s : buf->shape) {
      Value* d = cast(expr(s), s.dtype(), DataType::int_(64));
      Value* prod = b_.CreateBinaryIntrinsic(::llvm::Intrinsic::smul_with_overflow, size, d);
      size = b_.CreateExtractValue(prod, {0});
      bad = b_.CreateOr(bad, b_.CreateOr(b_.CreateExtractValue(prod, {1}), b_.CreateICmpSLT(d, b_.getInt64(0))));
    }
    size = b_.CreateSelect(bad, b_.getInt64(uint64_t(-1)), size);
    auto* ptr_t = ::llvm::PointerType::get(ctx_, 0);
    auto alloc = runtime_function(RuntimeSymbols::alloc, ptr_t, {b_.getInt64Ty()});
    Value* p = b_.CreateCall(alloc, {size});
    return_if(b_.CreateICmpEQ(p, ::llvm::ConstantPointerNull::get(ptr_t)), b_.getInt32(detail::kErrorOutOfMemory));
    bind(buf->data, p);
    ptr_align_[buf->data.get()] = 64;
    heap_live_.push_back(p);
    emit(n.body);
    heap_live_.pop_back();
    unbind(buf->data);
    b_.CreateCall(free_function(), {p});
  }

  ::llvm::FunctionCallee free_function() {
    return runtime_function(RuntimeSymbols::free, b_.getVoidTy(), {::llvm::PointerType::get(ctx_, 0)});
  }

  // ---- memory ---------------------------------------------------------------------------------
  Value* buffer_base(const ir::Buffer& buf) {
    auto it = vars_.find(buf->data.get());
    KILN_ICHECK(it != vars_.end(), "buffer '", buf->name, "' used in '", func_name_, "' has no storage in scope");
    return it->second;
  }
  static const ir::Expr& flat_index(const ir::Buffer& buf, const std::vector<ir::Expr>& indices, const char* what) {
    KILN_ICHECK(indices.size() == 1, what, " of buffer '", buf->name, "' with ", indices.size(),
                " indices; the LLVM backend expects flattened (1-D) buffers from tir::lower");
    return indices[0];
  }
  // A Ramp with stride 1: its base, for a contiguous vector access; else nullptr.
  static const ir::Expr* dense_base(const ir::Expr& index) {
    if (auto* r = index.as<ir::RampNode>())
      if (ir::is_const_int(r->stride, 1)) return &r->base;
    return nullptr;
  }
  Value* element_ptr(const ir::Buffer& buf, Value* index64) {
    return b_.CreateInBoundsGEP(storage_scalar_type(buf->dtype), buffer_base(buf), index64);
  }
  Value* load_scalar(const ir::Buffer& buf, Value* index64) {
    DataType t = buf->dtype;
    Value* v = b_.CreateAlignedLoad(storage_scalar_type(t), element_ptr(buf, index64), ::llvm::Align(uint64_t(storage_align(t))));
    return t.is_bool() ? b_.CreateICmpNE(v, b_.getInt8(0)) : v;
  }

  Value* emit_load(const ir::BufferLoadNode& n) {
    const ir::Buffer& buf = n.buffer;
    const ir::Expr& index = flat_index(buf, n.indices, "load");
    DataType t = buf->dtype;
    int lanes = index.dtype().lanes;
    if (lanes == 1) return load_scalar(buf, index64(index));
    if (const ir::Expr* base = dense_base(index)) {
      Type* vt = ::llvm::FixedVectorType::get(storage_scalar_type(t), unsigned(lanes));
      Value* v = b_.CreateAlignedLoad(vt, element_ptr(buf, index64(*base)), ::llvm::Align(uint64_t(storage_align(t))));
      return t.is_bool() ? b_.CreateICmpNE(v, ::llvm::Constant::getNullValue(vt)) : v;
    }
    // Gather: one scalar load per lane.
    Value* idx = cast(expr(index), index.dtype(), DataType::int_(64, lanes));
    Value* out = ::llvm::PoisonValue::get(value_type(t.with_lanes(lanes)));
    for (int l = 0; l < lanes; ++l)
      out = b_.CreateInsertElement(out, load_scalar(buf, b_.CreateExtractElement(idx, uint64_t(l))), uint64_t(l));
    return out;
  }

  void store_scalar(const ir::Buffer& buf, Value* index64, Value* v) {
    DataType t = buf->dtype;
    if (t.is_bool()) v = b_.CreateZExt(v, b_.getInt8Ty());
    b_.CreateAlignedStore(v, element_ptr(buf, index64), ::llvm::Align(uint64_t(storage_align(t))));
  }

  void emit_store(const ir::BufferStoreNode& n) {
    const ir::Buffer& buf = n.buffer;
    const ir::Expr& index = flat_index(buf, n.indices, "store");
    DataType t = buf->dtype;
    int lanes = index.dtype().lanes;
    KILN_USER_CHECK(n.value.dtype() == t.with_lanes(lanes), "store into '", buf->name, "' in '", func_name_, "': value of type ",
                    n.value.dtype().str(), " with an index of ", lanes, " lanes; expected ", t.with_lanes(lanes).str());
    Value* v = expr(n.value);
    if (lanes == 1) return store_scalar(buf, index64(index), v);
    if (const ir::Expr* base = dense_base(index)) {
      if (t.is_bool()) v = b_.CreateZExt(v, ::llvm::FixedVectorType::get(b_.getInt8Ty(), unsigned(lanes)));
      b_.CreateAlignedStore(v, element_ptr(buf, index64(*base)), ::llvm::Align(uint64_t(storage_align(t))));
      return;
    }
    // Scatter: one scalar store per lane, in lane order (later lanes win on equal indices).
    Value* idx = cast(expr(index), index.dtype(), DataType::int_(64, lanes));
    for (int l = 0; l < lanes; ++l)
      store_scalar(buf, b_.CreateExtractElement(idx, uint64_t(l)), b_.CreateExtractElement(v, uint64_t(l)));
  }

  Value* index64(const ir::Expr& index) {
    KILN_USER_CHECK(index.dtype().is_integer(), "buffer index of type ", index.dtype().str(), " in '", func_name_,
                    "'; indices must be integers");
    return cast(expr(index), index.dtype(), DataType::int_(64, index.dtype().lanes));
  }

  // ---- expressions ----------------------------------------------------------------------------
  Value* scalar_cond(const ir::Expr& c, const char* where) {
    KILN_USER_CHECK(c.dtype() == DataType::boolean(), where, " condition in '", func_name_, "' must be a scalar bool, got ",
                    c.dtype().str());
    return expr(c);
  }

  Value* expr(const ir::Expr& e) {
    KILN_ICHECK(e.defined(), "undefined expression in '", func_name_, "'");
    DataType t = e.dtype();
    switch (e.kind()) {
      case ir::ExprKind::Var: {
        auto it = vars_.find(e.get());
        if (it == vars_.end())
          user_error("variable '", e.as<ir::VarNode>()->name, "' is used in '", func_name_,
                     "' but is not a parameter, a shape variable of a parameter buffer, or bound by an enclosing loop "
                     "or let");
        return it->second;
      }
      case ir::ExprKind::IntImm: return ::llvm::ConstantInt::get(value_type(t), uint64_t(e.as<ir::IntImmNode>()->value), t.is_int());
      case ir::ExprKind::FloatImm: {
        double v = e.as<ir::FloatImmNode>()->value;
        if (t.is_bfloat16()) return ::llvm::ConstantInt::get(value_type(t), runtime::double_to_bfloat16_bits(v));
        if (t.is_float16()) {
          // Round once, from the double, to half.
          bool lost = false;
          ::llvm::APFloat f(v);
          f.convert(::llvm::APFloat::IEEEhalf(), ::llvm::APFloat::rmNearestTiesToEven, &lost);
          return ::llvm::ConstantFP::get(value_type(t), f);
        }
        return ::llvm::ConstantFP::get(value_type(t), t.bits == 32 ? double(float(v)) : v);
      }
      case ir::ExprKind::StringImm:
        user_error("string constant \"", e.as<ir::StringImmNode>()->value, "\" used as a value in '", func_name_,
                   "'; strings may only name things, they have no value in generated code");
      case ir::ExprKind::Binary: return binary(*e.as<ir::BinaryNode>());
      case ir::ExprKind::Not: return b_.CreateNot(expr(e.as<ir::NotNode>()->a));
      case ir::ExprKind::Select: {
        auto* n = e.as<ir::SelectNode>();
        Value* c = expr(n->cond);
        Value* a = expr(n->true_value);
        Value* f = expr(n->false_value);
        if (t.lanes > 1 && n->cond.dtype().lanes == 1) c = b_.CreateVectorSplat(unsigned(t.lanes), c);
        return b_.CreateSelect(c, a, f);
      }
      case ir::ExprKind::Cast: {
        auto* n = e.as<ir::CastNode>();
        return cast(expr(n->value), n->value.dtype(), t);
      }
      case ir::ExprKind::Call: return call(*e.as<ir::CallNode>());
      case ir::ExprKind::BufferLoad: return emit_load(*e.as<ir::BufferLoadNode>());
      case ir::ExprKind::Ramp: {
        auto* n = e.as<ir::RampNode>();
        Value* base = b_.CreateVectorSplat(unsigned(n->lanes), expr(n->base));
        Value* stride = b_.CreateVectorSplat(unsigned(n->lanes), expr(n->stride));
        DataType et = t.element_of();
        std::vector<::llvm::Constant*> steps;
        for (int l = 0; l < n->lanes; ++l)
          steps.push_back(et.is_float() && !et.is_bfloat16() ? ::llvm::ConstantFP::get(scalar_type(et), double(l))
                                                               : ::llvm::ConstantInt::get(scalar_type(et), uint64_t(l)));
        KILN_USER_CHECK(et.is_integer(), "ramp of type ", t.str(), " in '", func_name_, "'; ramps are integer vectors");
        return b_.CreateAdd(base, b_.CreateMul(stride, ::llvm::ConstantVector::get(steps)));
      }
      case ir::ExprKind::Broadcast: {
        auto* n = e.as<ir::BroadcastNode>();
        return b_.CreateVectorSplat(unsigned(n->lanes), expr(n->value));
      }
      case ir::ExprKind::Let: {
        auto* n = e.as<ir::LetNode>();
        bind(n->var, expr(n->value));
        Value* v = expr(n->body);
        unbind(n->var);
        return v;
      }
      case ir::ExprKind::Reduce:
        internal_error("the LLVM backend got a Reduce expression in '", func_name_,
                       "'; reductions must be lowered to loops first (te::create_prim_func + tir::lower)");
    }
    internal_error("unknown expression kind");
  }

  // float16 and bfloat16 compute in float32 and round back after each operation.
  static bool is_narrow_float(DataType t) { return t.is_bfloat16() || t.is_float16(); }
  Value* widen(Value* v, DataType t) { return is_narrow_float(t) ? cast(v, t, DataType::float_(32, t.lanes)) : v; }

  Value* binary(const ir::BinaryNode& n) {
    DataType ot = n.a.dtype();
    KILN_USER_CHECK(ot == n.b.dtype(), "operands of '", ir::binary_op_name(n.op), "' in '", func_name_,
                    "' have different types: ", ot.str(), " and ", n.b.dtype().str());
    Value* a = expr(n.a);
    Value* b = expr(n.b);
    if (is_narrow_float(ot)) {
      DataType wide = DataType::float_(32, ot.lanes);
      Value* r = binary_values(n.op, widen(a, ot), widen(b, ot), wide);
      return ir::is_comparison(n.op) ? r : cast(r, wide, ot);
    }
    return binary_values(n.op, a, b, ot);
  }

  Value* binary_values(ir::BinaryOp op, Value* a, Value* b, DataType t) {
    using ir::BinaryOp;
    bool fl = t.is_float();
    bool sg = t.is_int();
    switch (op) {
      case BinaryOp::Add: return fl ? b_.CreateFAdd(a, b) : b_.CreateAdd(a, b);
      case BinaryOp::Sub: return fl ? b_.CreateFSub(a, b) : b_.CreateSub(a, b);
      case BinaryOp::Mul: return fl ? b_.CreateFMul(a, b) : b_.CreateMul(a, b);
      case BinaryOp::Div: return fl ? b_.CreateFDiv(a, b) : int_div(a, b, t, false);
      case BinaryOp::Mod: return fl ? b_.CreateFRem(a, b) : int_div(a, b, t, true);
      case BinaryOp::FloorDiv:
        if (fl) return b_.CreateUnaryIntrinsic(::llvm::Intrinsic::floor, b_.CreateFDiv(a, b));
        return sg ? floor_div_mod(a, b, t, false) : int_div(a, b, t, false);
      case BinaryOp::FloorMod:
        if (fl) {
          Value* q = b_.CreateUnaryIntrinsic(::llvm::Intrinsic::floor, b_.CreateFDiv(a, b));
          return b_.CreateFSub(a, b_.CreateFMul(q, b));
        }
        return sg ? floor_div_mod(a, b, t, true) : int_div(a, b, t, true);
      case BinaryOp::Min:
        if (fl) return b_.CreateMinNum(a, b);
        return b_.CreateSelect(sg ? b_.CreateICmpSLT(a, b) : b_.CreateICmpULT(a, b), a, b);
      case BinaryOp::Max:
        if (fl) return b_.CreateMaxNum(a, b);
        return b_.CreateSelect(sg ? b_.CreateICmpSGT(a, b) : b_.CreateICmpUGT(a, b), a, b);
      case BinaryOp::EQ: return fl ? b_.CreateFCmpOEQ(a, b) : b_.CreateICmpEQ(a, b);
      case BinaryOp::NE: return fl ? b_.CreateFCmpUNE(a, b) : b_.CreateICmpNE(a, b);
      case BinaryOp::LT: return fl ? b_.CreateFCmpOLT(a, b) : sg ? b_.CreateICmpSLT(a, b) : b_.CreateICmpULT(a, b);
      case BinaryOp::LE: return fl ? b_.CreateFCmpOLE(a, b) : sg ? b_.CreateICmpSLE(a, b) : b_.CreateICmpULE(a, b);
      case BinaryOp::GT: return fl ? b_.CreateFCmpOGT(a, b) : sg ? b_.CreateICmpSGT(a, b) : b_.CreateICmpUGT(a, b);
      case BinaryOp::GE: return fl ? b_.CreateFCmpOGE(a, b) : sg ? b_.CreateICmpSGE(a, b) : b_.CreateICmpUGE(a, b);
      case BinaryOp::And: return b_.CreateAnd(a, b);
      case BinaryOp::Or: return b_.CreateOr(a, b);
    }
    internal_error("unknown binary op");
  }

  // Truncating division/remainder that never traps: x / 0 gives 0 (the interpreter reports it as
  // an error; generated code must not crash), INT_MIN / -1 wraps to INT_MIN and its remainder is 0.
  Value* int_div(Value* a, Value* b, DataType t, bool rem) {
    KILN_USER_CHECK(!t.is_bool(), "'", rem ? "mod" : "div", "' on bool operands in '", func_name_, "'");
    bool sg = t.is_int();
    if (auto* c = ::llvm::dyn_cast<::llvm::ConstantInt>(b)) {
      if (!c->isZero() && !(sg && c->isMinusOne()))
        return rem ? (sg ? b_.CreateSRem(a, b) : b_.CreateURem(a, b)) : (sg ? b_.CreateSDiv(a, b) : b_.CreateUDiv(a, b));
    } else if (auto* cv = ::llvm::dyn_cast<::llvm::Constant>(b); cv && cv->getSplatValue()) {
      auto* s = ::llvm::dyn_cast<::llvm::ConstantInt>(cv->getSplatValue());
      if (s && !s->isZero() && !(sg && s->isMinusOne()))
        return rem ? (sg ? b_.CreateSRem(a, b) : b_.CreateURem(a, b)) : (sg ? b_.CreateSDiv(a, b) : b_.CreateUDiv(a, b));
    }
    Value* zero = zero_of(t);
    Value* one = ::llvm::ConstantInt::get(value_type(t), 1);
    Value* is_zero = b_.CreateICmpEQ(b, zero);
    Value* bad = is_zero;
    Value* is_m1 = nullptr;
    if (sg) {
      is_m1 = b_.CreateICmpEQ(b, ::llvm::Constant::getAllOnesValue(value_type(t)));
      bad = b_.CreateOr(bad, is_m1);
    }
    Value* safe_b = b_.CreateSelect(bad, one, b);
    Value* r = rem ? (sg ? b_.CreateSRem(a, safe_b) : b_.CreateURem(a, safe_b))
                   : (sg ? b_.CreateSDiv(a, safe_b) : b_.CreateUDiv(a, safe_b));
    if (sg) r = b_.CreateSelect(is_m1, rem ? zero : b_.CreateSub(zero, a), r);
    return b_.CreateSelect(is_zero, zero, r);
  }

  // Floor division/modulo on signed ints: truncating result, corrected when the remainder is
  // non-zero and its sign differs from the divisor's.
  Value* floor_div_mod(Value* a, Value* b, DataType t, bool mod) {
    Value* zero = zero_of(t);
    Value* q = int_div(a, b, t, false);
    Value* r = int_div(a, b, t, true);
    Value* fix = b_.CreateAnd(b_.CreateICmpNE(r, zero), b_.CreateXor(b_.CreateICmpSLT(r, zero), b_.CreateICmpSLT(b, zero)));
    if (mod) return b_.CreateSelect(fix, b_.CreateAdd(r, b), r);
    return b_.CreateSelect(fix, b_.CreateSub(q, ::llvm::ConstantInt::get(value_type(t), 1)), q);
  }

  // ---- casts ----------------------------------------------------------------------------------
  Value* bf16_to_f32(Value* bits, int lanes) {
    Type* i32 = value_type(DataType::int_(32, lanes));
    Value* w = b_.CreateShl(b_.CreateZExt(bits, i32), ::llvm::ConstantInt::get(i32, 16));
    return b_.CreateBitCast(w, value_type(DataType::float_(32, lanes)));
  }
  // Round to nearest even; NaN becomes a quiet NaN with the same sign.
  Value* f32_to_bf16(Value* f, int lanes) {
    Type* i32 = value_type(DataType::int_(32, lanes));
    auto k = [&](uint32_t v) { return ::llvm::ConstantInt::get(i32, v); };
    Value* u = b_.CreateBitCast(f, i32);
    Value* is_nan = b_.CreateICmpUGT(b_.CreateAnd(u, k(0x7fffffffu)), k(0x7f800000u));
    Value* lsb = b_.CreateAnd(b_.CreateLShr(u, k(16)), k(1));
    Value* rounded = b_.CreateLShr(b_.CreateAdd(u, b_.CreateAdd(lsb, k(0x7fffu))), k(16));
    Value* quiet = b_.CreateOr(b_.CreateLShr(u, k(16)), k(0x40u));
    return b_.CreateTrunc(b_.CreateSelect(is_nan, quiet, rounded), value_type(DataType::int_(16, lanes)));
  }

  Value* cast(Value* v, DataType from, DataType to) {
    if (from == to) return v;
    KILN_USER_CHECK(from.lanes == to.lanes, "cast from ", from.str(), " to ", to.str(), " in '", func_name_,
                    "' changes the number of lanes");
    int lanes = to.lanes;
    DataType f32 = DataType::float_(32, lanes);
    if (from.is_bfloat16()) return cast(bf16_to_f32(v, lanes), f32, to);
    if (to.is_bfloat16()) {
      if (from.is_float() && from.bits == 64) {
        // double -> float rounds to odd (keeps the sticky bit) so the final rounding to bf16 is single.
        Value* f = b_.CreateFPTrunc(v, value_type(f32));
        Type* i32 = value_type(DataType::int_(32, lanes));
        Value* inexact = b_.CreateFCmpONE(b_.CreateFPExt(f, v->getType()), v);
        Value* toward_zero = b_.CreateFCmpOGT(b_.CreateUnaryIntrinsic(::llvm::Intrinsic::fabs, b_.CreateFPExt(f, v->getType())),
                                              b_.CreateUnaryIntrinsic(::llvm::Intrinsic::fabs, v));
        Value* u = b_.CreateBitCast(f, i32);
        u = b_.CreateSelect(b_.CreateAnd(inexact, toward_zero), b_.CreateSub(u, ::llvm::ConstantInt::get(i32, 1)), u);
        Value* finite = b_.CreateFCmpOLT(b_.CreateUnaryIntrinsic(::llvm::Intrinsic::fabs, f),
                                         ::llvm::ConstantFP::getInfinity(value_type(f32)));
        u = b_.CreateSelect(b_.CreateAnd(inexact, finite), b_.CreateOr(u, ::llvm::ConstantInt::get(i32, 1)), u);
        return f32_to_bf16(b_.CreateBitCast(u, value_type(f32)), lanes);
      }
      return f32_to_bf16(cast(v, from, f32), lanes);
    }
    Type* tt = value_type(to);
    if (to.is_bool()) {
      if (from.is_float()) return b_.CreateFCmpUNE(v, zero_of(from));
      return b_.CreateICmpNE(v, zero_of(from));
    }
    if (from.is_bool()) return to.is_float() ? b_.CreateUIToFP(v, tt) : b_.CreateZExt(v, tt);
    if (from.is_float() && to.is_float()) return to.bits > from.bits ? b_.CreateFPExt(v, tt) : b_.CreateFPTrunc(v, tt);
    if (from.is_float()) {
      // Truncate toward zero, saturate to 64 bits (NaN -> 0), then wrap to the target width: the
      // interpreter's rule, and never poison. uint64 uses the unsigned range above 2^63.
      Type* i64 = value_type(DataType::int_(64, lanes));
      Value* s = b_.CreateIntrinsic(::llvm::Intrinsic::fptosi_sat, {i64, v->getType()}, {v});
      if (to.is_uint() && to.bits == 64) {
        Value* u = b_.CreateIntrinsic(::llvm::Intrinsic::fptoui_sat, {i64, v->getType()}, {v});
        Value* big = b_.CreateFCmpOGE(v, ::llvm::ConstantFP::get(v->getType(), 9223372036854775808.0));
        s = b_.CreateSelect(big, u, s);
      }
      return to.bits == 64 ? s : b_.CreateTrunc(s, tt);
    }
    if (to.is_float()) return from.is_int() ? b_.CreateSIToFP(v, tt) : b_.CreateUIToFP(v, tt);
    KILN_USER_CHECK(from.is_integer() && to.is_integer(), "cast from ", from.str(), " to ", to.str(), " in '", func_name_,
                    "' is not supported");
    return b_.CreateIntCast(v, tt, from.is_int());
  }

  // ---- calls ----------------------------------------------------------------------------------
  Value* call(const ir::CallNode& n) {
    DataType t = n.dtype;
    if (n.op == ir::kCallLLVMIntrin) return llvm_intrinsic(n);
    if (n.op == "if_then_else") return lazy_if_then_else(n);
    if (n.op == "likely" && n.args.size() == 1) return expr(n.args[0]);
    const ir::IntrinsicInfo* info = ir::find_intrinsic(n.op);
    if (!info) {
      std::string known = "if_then_else";
      for (auto& i : ir::kIntrinsics) known += ", " + std::string(i.name);
      user_error("call to unknown function '", n.op, "' in '", func_name_, "'; the LLVM backend knows: ", known);
    }
    KILN_USER_CHECK(int(n.args.size()) == info->arity, "'", n.op, "' in '", func_name_, "' takes ", info->arity,
                    " argument(s), got ", n.args.size());
    for (auto& a : n.args)
      KILN_USER_CHECK(a.dtype() == t, "argument of '", n.op, "' in '", func_name_, "' has type ", a.dtype().str(),
                      " but the call has type ", t.str());
    std::vector<Value*> args;
    for (auto& a : n.args) args.push_back(expr(a));
    if (t.is_integer()) {
      KILN_USER_CHECK(info->integer_ok, "'", n.op, "' in '", func_name_, "' needs a float operand, got ", t.str());
      Value* x = args[0];
      if (t.is_uint()) return x;
      return b_.CreateSelect(b_.CreateICmpSLT(x, zero_of(t)), b_.CreateSub(zero_of(t), x), x);
    }
    KILN_USER_CHECK(t.is_float(), "'", n.op, "' in '", func_name_, "' needs a float operand, got ", t.str());
    if (is_narrow_float(t)) {
      DataType wide = DataType::float_(32, t.lanes);
      for (auto& a : args) a = widen(a, t);
      return cast(math(n.op, args, wide), wide, t);
    }
    return math(n.op, args, t);
  }

  Value* math(const std::string& op, const std::vector<Value*>& a, DataType t) {
    namespace I = ::llvm::Intrinsic;
    auto un = [&](I::ID id) { return b_.CreateUnaryIntrinsic(id, a[0]); };
    if (op == "exp") return un(I::exp);
    if (op == "log") return un(I::log);
    if (op == "exp2") return un(I::exp2);
    if (op == "log2") return un(I::log2);
    if (op == "log10") return un(I::log10);
    if (op == "sqrt") return un(I::sqrt);
    if (op == "sin") return un(I::sin);
    if (op == "cos") return un(I::cos);
    if (op == "tan") return libm("tan", a[0], t);
    if (op == "tanh") return libm("tanh", a[0], t);
    if (op == "erf") return libm("erf", a[0], t);
    if (op == "floor") return un(I::floor);
    if (op == "ceil") return un(I::ceil);
    if (op == "trunc") return un(I::trunc);
    if (op == "round") return un(I::roundeven);
    if (op == "fabs" || op == "abs") return un(I::fabs);
    if (op == "pow") return b_.CreateBinaryIntrinsic(I::pow, a[0], a[1]);
    if (op == "fma") return b_.CreateIntrinsic(I::fma, {a[0]->getType()}, {a[0], a[1], a[2]});
    Value* one = ::llvm::ConstantFP::get(value_type(t), 1.0);
    if (op == "rsqrt") return b_.CreateFDiv(one, un(I::sqrt));
    if (op == "sigmoid") {
      Value* e = b_.CreateUnaryIntrinsic(I::exp, b_.CreateFNeg(a[0]));
      return b_.CreateFDiv(one, b_.CreateFAdd(one, e));
    }
    internal_error("intrinsic '", op, "' has no LLVM lowering");
  }

  // ir::kCallLLVMIntrin: call_llvm_intrin(name, features, args...), arguments and result bit-cast
  // to the intrinsic's types of the same size.
  Value* llvm_intrinsic(const ir::CallNode& n) {
    const char* op = "call_llvm_intrin";
    auto* name = n.args.size() >= 2 ? n.args[0].as<ir::StringImmNode>() : nullptr;
    KILN_USER_CHECK(name && n.args[1].as<ir::StringImmNode>(), op, " in '", func_name_,
                    "' takes the intrinsic's name and its CPU features as string constants, then the arguments");
    ::llvm::Intrinsic::ID id = ::llvm::Function::lookupIntrinsicID(name->value);
    KILN_USER_CHECK(id != ::llvm::Intrinsic::not_intrinsic, op, " in '", func_name_, "': LLVM 19 has no intrinsic named '",
                    name->value, "'");
    KILN_USER_CHECK(!::llvm::Intrinsic::isOverloaded(id), op, " in '", func_name_, "': '", name->value,
                    "' is overloaded on its types; only intrinsics with fixed types can be called by name");
    ::llvm::Function* decl = ::llvm::Intrinsic::getDeclaration(&mod_, id);
    ::llvm::FunctionType* ft = decl->getFunctionType();
    KILN_USER_CHECK(ft->getNumParams() + 2 == n.args.size(), op, " in '", func_name_, "': '", name->value, "' takes ",
                    ft->getNumParams(), " arguments, got ", n.args.size() - 2);
    auto bitcast = [&](Value* v, Type* to, const std::string& what) -> Value* {
      if (v->getType() == to) return v;
      KILN_USER_CHECK(v->getType()->getPrimitiveSizeInBits() == to->getPrimitiveSizeInBits() &&
                          v->getType()->getPrimitiveSizeInBits() != 0,
                      op, " in '", func_name_, "': ", what, " of '", name->value, "' does not have the size of the intrinsic's type");
      return b_.CreateBitCast(v, to);
    };
    std::vector<Value*> args;
    for (unsigned k = 0; k < ft->getNumParams(); ++k)
      args.push_back(bitcast(expr(n.args[k + 2]), ft->getParamType(k), "argument " + std::to_string(k)));
    return bitcast(b_.CreateCall(decl, args), value_type(n.dtype), "the result");
  }

  // A libm call (tanhf / tanh, ...) resolved from the process, one call per lane for vectors.
  Value* libm(const std::string& base, Value* x, DataType t) {
    DataType s = t.element_of();
    Type* st = scalar_type(s);
    KILN_ICHECK(s.bits == 32 || s.bits == 64, "libm call on ", t.str());
    std::string name = s.bits == 32 ? base + "f" : base;
    auto fn = mod_.getOrInsertFunction(name, ::llvm::FunctionType::get(st, {st}, false));
    if (auto* f = ::llvm::dyn_cast<::llvm::Function>(fn.getCallee())) {
      f->setDoesNotThrow();
      f->setOnlyAccessesInaccessibleMemory();
    }
    if (t.lanes == 1) return b_.CreateCall(fn, {x});
    Value* out = ::llvm::PoisonValue::get(value_type(t));
    for (int l = 0; l < t.lanes; ++l)
      out = b_.CreateInsertElement(out, b_.CreateCall(fn, {b_.CreateExtractElement(x, uint64_t(l))}), uint64_t(l));
    return out;
  }

  // if_then_else(c, a, b) evaluates only the taken branch: a branch and a phi.
  Value* lazy_if_then_else(const ir::CallNode& n) {
    KILN_USER_CHECK(n.args.size() == 3, "if_then_else in '", func_name_, "' takes 3 arguments (cond, then, else), got ",
                    n.args.size());
    const ir::Expr& c = n.args[0];
    KILN_USER_CHECK(c.dtype().is_bool(), "if_then_else condition in '", func_name_, "' must be bool, got ", c.dtype().str());
    if (c.dtype().lanes > 1) return lazy_if_then_else_lanes(n);
    Value* cv = expr(c);
    auto* then_bb = ::llvm::BasicBlock::Create(ctx_, "ite_then", fn_);
    auto* else_bb = ::llvm::BasicBlock::Create(ctx_, "ite_else", fn_);
    auto* end_bb = ::llvm::BasicBlock::Create(ctx_, "ite_end", fn_);
    b_.CreateCondBr(cv, then_bb, else_bb);
    b_.SetInsertPoint(then_bb);
    Value* a = expr(n.args[1]);
    auto* then_end = b_.GetInsertBlock();
    b_.CreateBr(end_bb);
    b_.SetInsertPoint(else_bb);
    Value* f = expr(n.args[2]);
    auto* else_end = b_.GetInsertBlock();
    b_.CreateBr(end_bb);
    b_.SetInsertPoint(end_bb);
    auto* phi = b_.CreatePHI(a->getType(), 2);
    phi->addIncoming(a, then_end);
    phi->addIncoming(f, else_end);
    return phi;
  }

  // Vector condition: lane l evaluates only lane l of its branch (the branches are scalarized per
  // lane), so a padded vector load never touches the out-of-bounds lanes.
  Value* lazy_if_then_else_lanes(const ir::CallNode& n) {
    DataType t = n.dtype;
    Value* out = ::llvm::PoisonValue::get(value_type(t));
    for (int l = 0; l < t.lanes; ++l) {
      detail::ScalarizeLane lane(l);
      std::vector<ir::Expr> args;
      for (auto& a : n.args) args.push_back(lane.mutate(a));
      for (auto& [scalar, vec] : lane.vector_vars)
        bind(scalar, b_.CreateExtractElement(vars_.at(vec.get()), uint64_t(l)));
      Value* v = expr(ir::call(t.element_of(), "if_then_else", args));
      for (auto& [scalar, vec] : lane.vector_vars) unbind(scalar);
      out = b_.CreateInsertElement(out, v, uint64_t(l));
    }
    return out;
  }

  ::llvm::LLVMContext& ctx_;
  ::llvm::Module& mod_;
  ::llvm::IRBuilder<> b_;
  ::llvm::Function* fn_ = nullptr;
  std::string func_name_;  // the PrimFunc's name, for messages
  std::string symbol_;     // its kernel's symbol, prefix of helper function names
  std::unordered_map<const void*, Value*> vars_;
  std::unordered_map<const void*, int> ptr_align_;
  std::vector<Value*> heap_live_;  // heap buffers of the Allocate scopes around the insertion point
  int parallel_count_ = 0;
};

}  // namespace kiln::backend::llvm

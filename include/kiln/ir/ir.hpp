// kiln/ir/ir.hpp: everything of the IR core.
#pragma once
#include "kiln/ir/buffer.hpp"
#include "kiln/ir/dtype.hpp"
#include "kiln/ir/expr.hpp"
#include "kiln/ir/function.hpp"
#include "kiln/ir/functor.hpp"
#include "kiln/ir/intrinsics.hpp"
#include "kiln/ir/op.hpp"
#include "kiln/ir/stmt.hpp"

// kiln/arith/arith.hpp: integer arithmetic analysis: constant folding, bounds, symbolic
// intervals, the simplifier and region inference.
#pragma once
#include "kiln/arith/const_fold.hpp"
#include "kiln/arith/int_bound.hpp"
#include "kiln/arith/interval.hpp"
#include "kiln/arith/region.hpp"
#include "kiln/arith/simplify.hpp"

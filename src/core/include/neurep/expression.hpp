// Sizes given as arithmetic expressions of d, e.g. width = "2*d^2" or
// "(d+1)*(d+2)". Grammar: numbers, d, + - * / ^ (right-associative), unary
// minus and parentheses, nested at most 100 parentheses deep.
#pragma once

#include <cstdint>
#include <string>

namespace neurep {

// Throws InputError naming the problem and its position.
double evaluate_expression(const std::string& text, double d);

// The expression's value, a whole number (up to rounding of 1e-9) from `min`
// to 1e12; InputError naming `key` otherwise.
int64_t evaluate_size(const std::string& text, int d, const std::string& key, int64_t min = 1);

}  // namespace neurep

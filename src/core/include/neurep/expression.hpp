// Sizes given as arithmetic expressions of d, e.g. width = "2*d^2" or
// "(d+1)*(d+2)". Grammar: numbers, d, + - * / ^ (right-associative), unary
// minus and parentheses.
#pragma once

#include <cstdint>
#include <string>

namespace neurep {

// Throws InputError naming the problem and its position.
double evaluate_expression(const std::string& text, double d);

// The expression rounded to the nearest integer; InputError if below `min`.
int64_t evaluate_size(const std::string& text, int d, const std::string& key, int64_t min = 1);

}  // namespace neurep

#include "neurep/expression.hpp"

#include <fmt/core.h>

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "neurep/errors.hpp"

namespace neurep {
namespace {

class Parser {
 public:
  Parser(const std::string& text, double d) : s_(text), d_(d) {}

  double parse() {
    double v = sum();
    skip();
    if (pos_ != s_.size()) fail("unexpected character");
    return v;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    const std::string shown = s_.size() > 60 ? s_.substr(0, 57) + "..." : s_;
    throw InputError(fmt::format("expression \"{}\": {} at position {}", shown, what, pos_ + 1));
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  double sum() {
    double v = product();
    for (;;) {
      if (eat('+')) v += product();
      else if (eat('-')) v -= product();
      else return v;
    }
  }
  double product() {
    double v = power();
    for (;;) {
      if (eat('*')) v *= power();
      else if (eat('/')) v /= power();
      else return v;
    }
  }
  double power() {
    const Depth guard(*this);
    double base = unary();
    if (eat('^')) return std::pow(base, power());
    return base;
  }
  // Nesting (parentheses, unary signs, powers) deeper than any size needs
  // would otherwise recurse until the stack overflows.
  struct Depth {
    explicit Depth(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) p_.fail("nested too deeply");
    }
    ~Depth() { --p_.depth_; }
    Parser& p_;
  };
  static constexpr int kMaxDepth = 200;

  double unary() {
    const Depth guard(*this);
    if (eat('-')) return -unary();
    if (eat('+')) return unary();
    return atom();
  }
  double atom() {
    skip();
    if (eat('(')) {
      double v = sum();
      if (!eat(')')) fail("missing ')'");
      return v;
    }
    if (pos_ < s_.size() && s_[pos_] == 'd') {
      ++pos_;
      return d_;
    }
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    double v = std::strtod(begin, &end);
    if (end == begin) fail(pos_ < s_.size() ? "expected a number, d or '('" : "unexpected end");
    pos_ += static_cast<size_t>(end - begin);
    return v;
  }

  const std::string& s_;
  double d_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

double evaluate_expression(const std::string& text, double d) { return Parser(text, d).parse(); }

int64_t evaluate_size(const std::string& text, int d, const std::string& key, int64_t min) {
  double v = 0;
  try {
    v = evaluate_expression(text, d);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", key, e.what()));
  }
  if (!std::isfinite(v) || v < static_cast<double>(min) || v > 1e12)
    throw InputError(fmt::format("{}: \"{}\" gives {} at d = {}; it must be a whole number from {} to 1e12", key,
                                 text, v, d, min));
  if (std::abs(v - std::round(v)) > 1e-9 * std::max(1.0, std::abs(v)))
    throw InputError(fmt::format("{}: \"{}\" gives {} at d = {}, not a whole number; round it in the expression "
                                 "or choose another", key, text, v, d));
  return std::llround(v);
}

}  // namespace neurep

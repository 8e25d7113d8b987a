// Statistics as a compact little-endian blob; the layout is documented in serialize.h.
#include <cstring>

#include "core/stats/serialize.h"
#include "core/util/error.h"

namespace quench {

namespace {

constexpr char kMagic[4] = {'Q', 'S', 'T', 'B'};
enum class BlobKind : uint8_t { Activation = 1, Weight = 2 };

// Fixed codes, independent of LayerKind's declaration order (stored blobs outlive it).
constexpr LayerKind kLayerKinds[] = {LayerKind::Linear, LayerKind::Conv1d, LayerKind::Conv2d, LayerKind::Embedding};

uint8_t layer_kind_code(LayerKind k) {
  for (uint8_t i = 0; i < 4; ++i)
    if (kLayerKinds[i] == k) return i;
  fail("statistics blob: unknown layer kind");
}

class Writer {
 public:
  explicit Writer(BlobKind kind) {
    out_.insert(out_.end(), kMagic, kMagic + 4);
    u8(kStatsBlobVersion);
    u8(static_cast<uint8_t>(kind));
  }
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i64(int64_t v) { le(static_cast<uint64_t>(v), 8); }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    le(bits, 8);
  }
  void str(const std::string& s) {
    QUENCH_CHECK(s.size() <= 0xffffffffu, "statistics blob: string too long");
    u32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void i64s(const std::vector<int64_t>& v) {
    u64(v.size());
    for (int64_t x : v) i64(x);
  }
  void f64s(const std::vector<double>& v) {
    u64(v.size());
    for (double x : v) f64(x);
  }
  void histogram(const Histogram& h) {
    u8(static_cast<uint8_t>(h.range()));
    f64(h.limit());
    i64s(h.counts());
  }
  void percentiles(const AbsPercentiles& p) {
    for (double x : {p.p99, p.p99_9, p.p99_99, p.p99_999}) f64(x);
  }
  void distribution(const Distribution& d) {
    i64(d.count);
    for (double x : {d.min, d.max, d.absmax, d.mean, d.std, d.skewness, d.kurtosis}) f64(x);
    histogram(d.histogram);
    percentiles(d.percentiles);
  }
  void outliers(const OutlierReport& o) {
    f64(o.multiple);
    f64(o.median_absmax);
    u64(o.channels.size());
    for (const auto& c : o.channels) {
      i64(c.channel);
      f64(c.absmax);
      f64(c.ratio);
    }
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  void le(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  Reader(const std::vector<uint8_t>& b, BlobKind want) : b_(b) {
    need(6, "header");
    QUENCH_CHECK(std::memcmp(b_.data(), kMagic, 4) == 0, "statistics blob: bad magic (not a Quench statistics blob)");
    pos_ = 4;
    const uint8_t version = u8();
    QUENCH_CHECK(version == kStatsBlobVersion, "statistics blob: version ", int(version), ", this build reads version ",
                 int(kStatsBlobVersion));
    const uint8_t kind = u8();
    QUENCH_CHECK(kind == static_cast<uint8_t>(want), "statistics blob: holds kind ", int(kind), ", expected ",
                 int(static_cast<uint8_t>(want)), " (1 = activation, 2 = weight)");
  }
  uint8_t u8() {
    need(1, "u8");
    return b_[pos_++];
  }
  uint32_t u32() { return static_cast<uint32_t>(le(4, "u32")); }
  uint64_t u64() { return le(8, "u64"); }
  int64_t i64() { return static_cast<int64_t>(le(8, "i64")); }
  double f64() {
    const uint64_t bits = le(8, "f64");
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  std::string str() {
    const uint32_t n = u32();
    need(n, "string");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::vector<int64_t> i64s() {
    const uint64_t n = count(8);
    std::vector<int64_t> v(n);
    for (auto& x : v) x = i64();
    return v;
  }
  std::vector<double> f64s() {
    const uint64_t n = count(8);
    std::vector<double> v(n);
    for (auto& x : v) x = f64();
    return v;
  }
  Histogram histogram() {
    const uint8_t r = u8();
    QUENCH_CHECK(r <= 1, "statistics blob: unknown histogram range ", int(r), " at offset ", pos_ - 1);
    const double limit = f64();
    return Histogram::from_parts(static_cast<Histogram::Range>(r), limit, i64s());
  }
  AbsPercentiles percentiles() {
    AbsPercentiles p;
    for (double* x : {&p.p99, &p.p99_9, &p.p99_99, &p.p99_999}) *x = f64();
    return p;
  }
  Distribution distribution() {
    Distribution d;
    d.count = i64();
    for (double* x : {&d.min, &d.max, &d.absmax, &d.mean, &d.std, &d.skewness, &d.kurtosis}) *x = f64();
    d.histogram = histogram();
    d.percentiles = percentiles();
    return d;
  }
  OutlierReport outliers() {
    OutlierReport o;
    o.multiple = f64();
    o.median_absmax = f64();
    const uint64_t n = count(24);
    for (uint64_t i = 0; i < n; ++i) {
      OutlierChannel c;
      c.channel = i64();
      c.absmax = f64();
      c.ratio = f64();
      o.channels.push_back(c);
    }
    return o;
  }
  void finish() const {
    QUENCH_CHECK(pos_ == b_.size(), "statistics blob: ", b_.size() - pos_, " trailing bytes after offset ", pos_);
  }

 private:
  void need(uint64_t n, const char* what) const {
    QUENCH_CHECK(n <= b_.size() - pos_, "statistics blob: truncated reading ", what, " (", n, " bytes) at offset ", pos_, " of ",
                 b_.size());
  }
  // An element count, checked against the bytes left before anything is allocated.
  uint64_t count(uint64_t element_bytes) {
    const uint64_t n = u64();
    QUENCH_CHECK(n <= (b_.size() - pos_) / element_bytes, "statistics blob: array of ", n, " elements at offset ", pos_ - 8,
                 " exceeds the ", b_.size() - pos_, " bytes left");
    return n;
  }
  uint64_t le(int bytes, const char* what) {
    need(bytes, what);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(b_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }
  const std::vector<uint8_t>& b_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<uint8_t> to_blob(const ActivationStats& s) {
  Writer w(BlobKind::Activation);
  w.str(s.point);
  w.i64(s.channel_dim);
  w.i64s(s.shape);
  w.i64(s.batches);
  w.i64(s.nonfinite);
  w.i64(s.nonfinite_batches);
  w.distribution(s.all);
  w.i64(s.channels);
  for (const auto* v : {&s.channel_min, &s.channel_max, &s.channel_absmax, &s.channel_mean, &s.channel_std}) w.f64s(*v);
  w.i64(s.token_max.count);
  w.f64(s.token_max.max);
  w.f64(s.token_max.mean);
  w.f64(s.token_max.std);
  w.histogram(s.token_max.histogram);
  w.percentiles(s.token_max.percentiles);
  w.outliers(s.outliers);
  return w.take();
}

ActivationStats activation_stats_from_blob(const std::vector<uint8_t>& blob) {
  Reader r(blob, BlobKind::Activation);
  ActivationStats s;
  s.point = r.str();
  s.channel_dim = r.i64();
  s.shape = r.i64s();
  s.batches = r.i64();
  s.nonfinite = r.i64();
  s.nonfinite_batches = r.i64();
  s.all = r.distribution();
  s.channels = r.i64();
  for (auto* v : {&s.channel_min, &s.channel_max, &s.channel_absmax, &s.channel_mean, &s.channel_std}) *v = r.f64s();
  s.token_max.count = r.i64();
  s.token_max.max = r.f64();
  s.token_max.mean = r.f64();
  s.token_max.std = r.f64();
  s.token_max.histogram = r.histogram();
  s.token_max.percentiles = r.percentiles();
  s.outliers = r.outliers();
  r.finish();
  return s;
}

std::vector<uint8_t> to_blob(const WeightStats& s) {
  Writer w(BlobKind::Weight);
  w.str(s.layer);
  w.u8(layer_kind_code(s.kind));
  w.i64s(s.shape);
  w.distribution(s.all);
  for (const auto* v : {&s.out_min, &s.out_max, &s.out_absmax, &s.out_std, &s.in_absmax, &s.in_std}) w.f64s(*v);
  w.outliers(s.outliers);
  return w.take();
}

WeightStats weight_stats_from_blob(const std::vector<uint8_t>& blob) {
  Reader r(blob, BlobKind::Weight);
  WeightStats s;
  s.layer = r.str();
  const uint8_t kind = r.u8();
  QUENCH_CHECK(kind < 4, "statistics blob: unknown layer kind ", int(kind));
  s.kind = kLayerKinds[kind];
  s.shape = r.i64s();
  s.all = r.distribution();
  for (auto* v : {&s.out_min, &s.out_max, &s.out_absmax, &s.out_std, &s.in_absmax, &s.in_std}) *v = r.f64s();
  s.outliers = r.outliers();
  r.finish();
  return s;
}

}  // namespace quench

#include "watch/relabel/relabel.h"

#include <openssl/evp.h>
#include <re2/re2.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <limits>
#include <span>

#include "watch/goregexp/goregexp.h"
#include "watch/gotext/gotext.h"

namespace watch::relabel {

namespace {

using gotext::go_quote;

constexpr std::string_view kDefaultRegex = "(.*)";
constexpr std::string_view kDefaultReplacement = "$1";
constexpr std::string_view kDefaultSeparator = ";";
constexpr std::string_view kAddressLabel = "__address__";
constexpr std::string_view kSchemeLabel = "__scheme__";
constexpr std::string_view kMetricsPathLabel = "__metrics_path__";
constexpr std::string_view kScrapeIntervalLabel = "__scrape_interval__";
constexpr std::string_view kScrapeTimeoutLabel = "__scrape_timeout__";
constexpr std::string_view kParamLabelPrefix = "__param_";
constexpr std::string_view kMetaLabelPrefix = "__meta_";
constexpr std::string_view kReservedLabelPrefix = "__";

// ---------------------------------------------------------------------------
// Go's strings.ToLower / ToUpper: per code point, Unicode's simple case
// mappings (UnicodeData.txt), in the Unicode version of Go 1.19 (13.0.0), the
// toolchain of Prometheus 2.42. Generated from the Unicode Character Database
// (Perl's Unicode::UCD, code points present in 13.0); checked against
// Python's str.lower/upper wherever those are single code points.

struct CaseRange {
  char32_t first;
  char32_t last;
  std::int32_t delta;  // added to a mapped code point
  std::uint8_t step;   // 1: every code point maps; 2: every other (first, first+2, ...)
};

// clang-format off
constexpr CaseRange kToLower[] = {
    {0x0041, 0x005A, 32, 1}, {0x00C0, 0x00D6, 32, 1}, {0x00D8, 0x00DE, 32, 1},
    {0x0100, 0x012E, 1, 2}, {0x0130, 0x0130, -199, 1}, {0x0132, 0x0136, 1, 2},
    {0x0139, 0x0147, 1, 2}, {0x014A, 0x0176, 1, 2}, {0x0178, 0x0178, -121, 1},
    {0x0179, 0x017D, 1, 2}, {0x0181, 0x0181, 210, 1}, {0x0182, 0x0184, 1, 2},
    {0x0186, 0x0186, 206, 1}, {0x0187, 0x0187, 1, 1}, {0x0189, 0x018A, 205, 1},
    {0x018B, 0x018B, 1, 1}, {0x018E, 0x018E, 79, 1}, {0x018F, 0x018F, 202, 1},
    {0x0190, 0x0190, 203, 1}, {0x0191, 0x0191, 1, 1}, {0x0193, 0x0193, 205, 1},
    {0x0194, 0x0194, 207, 1}, {0x0196, 0x0196, 211, 1}, {0x0197, 0x0197, 209, 1},
    {0x0198, 0x0198, 1, 1}, {0x019C, 0x019C, 211, 1}, {0x019D, 0x019D, 213, 1},
    {0x019F, 0x019F, 214, 1}, {0x01A0, 0x01A4, 1, 2}, {0x01A6, 0x01A6, 218, 1},
    {0x01A7, 0x01A7, 1, 1}, {0x01A9, 0x01A9, 218, 1}, {0x01AC, 0x01AC, 1, 1},
    {0x01AE, 0x01AE, 218, 1}, {0x01AF, 0x01AF, 1, 1}, {0x01B1, 0x01B2, 217, 1},
    {0x01B3, 0x01B5, 1, 2}, {0x01B7, 0x01B7, 219, 1}, {0x01B8, 0x01B8, 1, 1},
    {0x01BC, 0x01BC, 1, 1}, {0x01C4, 0x01C4, 2, 1}, {0x01C5, 0x01C5, 1, 1},
    {0x01C7, 0x01C7, 2, 1}, {0x01C8, 0x01C8, 1, 1}, {0x01CA, 0x01CA, 2, 1},
    {0x01CB, 0x01DB, 1, 2}, {0x01DE, 0x01EE, 1, 2}, {0x01F1, 0x01F1, 2, 1},
    {0x01F2, 0x01F4, 1, 2}, {0x01F6, 0x01F6, -97, 1}, {0x01F7, 0x01F7, -56, 1},
    {0x01F8, 0x021E, 1, 2}, {0x0220, 0x0220, -130, 1}, {0x0222, 0x0232, 1, 2},
    {0x023A, 0x023A, 10795, 1}, {0x023B, 0x023B, 1, 1}, {0x023D, 0x023D, -163, 1},
    {0x023E, 0x023E, 10792, 1}, {0x0241, 0x0241, 1, 1}, {0x0243, 0x0243, -195, 1},
    {0x0244, 0x0244, 69, 1}, {0x0245, 0x0245, 71, 1}, {0x0246, 0x024E, 1, 2},
    {0x0370, 0x0372, 1, 2}, {0x0376, 0x0376, 1, 1}, {0x037F, 0x037F, 116, 1},
    {0x0386, 0x0386, 38, 1}, {0x0388, 0x038A, 37, 1}, {0x038C, 0x038C, 64, 1},
    {0x038E, 0x038F, 63, 1}, {0x0391, 0x03A1, 32, 1}, {0x03A3, 0x03AB, 32, 1},
    {0x03CF, 0x03CF, 8, 1}, {0x03D8, 0x03EE, 1, 2}, {0x03F4, 0x03F4, -60, 1},
    {0x03F7, 0x03F7, 1, 1}, {0x03F9, 0x03F9, -7, 1}, {0x03FA, 0x03FA, 1, 1},
    {0x03FD, 0x03FF, -130, 1}, {0x0400, 0x040F, 80, 1}, {0x0410, 0x042F, 32, 1},
    {0x0460, 0x0480, 1, 2}, {0x048A, 0x04BE, 1, 2}, {0x04C0, 0x04C0, 15, 1},
    {0x04C1, 0x04CD, 1, 2}, {0x04D0, 0x052E, 1, 2}, {0x0531, 0x0556, 48, 1},
    {0x10A0, 0x10C5, 7264, 1}, {0x10C7, 0x10C7, 7264, 1}, {0x10CD, 0x10CD, 7264, 1},
    {0x13A0, 0x13EF, 38864, 1}, {0x13F0, 0x13F5, 8, 1}, {0x1C90, 0x1CBA, -3008, 1},
    {0x1CBD, 0x1CBF, -3008, 1}, {0x1E00, 0x1E94, 1, 2}, {0x1E9E, 0x1E9E, -7615, 1},
    {0x1EA0, 0x1EFE, 1, 2}, {0x1F08, 0x1F0F, -8, 1}, {0x1F18, 0x1F1D, -8, 1},
    {0x1F28, 0x1F2F, -8, 1}, {0x1F38, 0x1F3F, -8, 1}, {0x1F48, 0x1F4D, -8, 1},
    {0x1F59, 0x1F5F, -8, 2}, {0x1F68, 0x1F6F, -8, 1}, {0x1F88, 0x1F8F, -8, 1},
    {0x1F98, 0x1F9F, -8, 1}, {0x1FA8, 0x1FAF, -8, 1}, {0x1FB8, 0x1FB9, -8, 1},
    {0x1FBA, 0x1FBB, -74, 1}, {0x1FBC, 0x1FBC, -9, 1}, {0x1FC8, 0x1FCB, -86, 1},
    {0x1FCC, 0x1FCC, -9, 1}, {0x1FD8, 0x1FD9, -8, 1}, {0x1FDA, 0x1FDB, -100, 1},
    {0x1FE8, 0x1FE9, -8, 1}, {0x1FEA, 0x1FEB, -112, 1}, {0x1FEC, 0x1FEC, -7, 1},
    {0x1FF8, 0x1FF9, -128, 1}, {0x1FFA, 0x1FFB, -126, 1}, {0x1FFC, 0x1FFC, -9, 1},
    {0x2126, 0x2126, -7517, 1}, {0x212A, 0x212A, -8383, 1}, {0x212B, 0x212B, -8262, 1},
    {0x2132, 0x2132, 28, 1}, {0x2160, 0x216F, 16, 1}, {0x2183, 0x2183, 1, 1},
    {0x24B6, 0x24CF, 26, 1}, {0x2C00, 0x2C2E, 48, 1}, {0x2C60, 0x2C60, 1, 1},
    {0x2C62, 0x2C62, -10743, 1}, {0x2C63, 0x2C63, -3814, 1}, {0x2C64, 0x2C64, -10727, 1},
    {0x2C67, 0x2C6B, 1, 2}, {0x2C6D, 0x2C6D, -10780, 1}, {0x2C6E, 0x2C6E, -10749, 1},
    {0x2C6F, 0x2C6F, -10783, 1}, {0x2C70, 0x2C70, -10782, 1}, {0x2C72, 0x2C72, 1, 1},
    {0x2C75, 0x2C75, 1, 1}, {0x2C7E, 0x2C7F, -10815, 1}, {0x2C80, 0x2CE2, 1, 2},
    {0x2CEB, 0x2CED, 1, 2}, {0x2CF2, 0x2CF2, 1, 1}, {0xA640, 0xA66C, 1, 2},
    {0xA680, 0xA69A, 1, 2}, {0xA722, 0xA72E, 1, 2}, {0xA732, 0xA76E, 1, 2},
    {0xA779, 0xA77B, 1, 2}, {0xA77D, 0xA77D, -35332, 1}, {0xA77E, 0xA786, 1, 2},
    {0xA78B, 0xA78B, 1, 1}, {0xA78D, 0xA78D, -42280, 1}, {0xA790, 0xA792, 1, 2},
    {0xA796, 0xA7A8, 1, 2}, {0xA7AA, 0xA7AA, -42308, 1}, {0xA7AB, 0xA7AB, -42319, 1},
    {0xA7AC, 0xA7AC, -42315, 1}, {0xA7AD, 0xA7AD, -42305, 1}, {0xA7AE, 0xA7AE, -42308, 1},
    {0xA7B0, 0xA7B0, -42258, 1}, {0xA7B1, 0xA7B1, -42282, 1}, {0xA7B2, 0xA7B2, -42261, 1},
    {0xA7B3, 0xA7B3, 928, 1}, {0xA7B4, 0xA7BE, 1, 2}, {0xA7C2, 0xA7C2, 1, 1},
    {0xA7C4, 0xA7C4, -48, 1}, {0xA7C5, 0xA7C5, -42307, 1}, {0xA7C6, 0xA7C6, -35384, 1},
    {0xA7C7, 0xA7C9, 1, 2}, {0xA7F5, 0xA7F5, 1, 1}, {0xFF21, 0xFF3A, 32, 1},
    {0x10400, 0x10427, 40, 1}, {0x104B0, 0x104D3, 40, 1}, {0x10C80, 0x10CB2, 64, 1},
    {0x118A0, 0x118BF, 32, 1}, {0x16E40, 0x16E5F, 32, 1}, {0x1E900, 0x1E921, 34, 1},
};
constexpr CaseRange kToUpper[] = {
    {0x0061, 0x007A, -32, 1}, {0x00B5, 0x00B5, 743, 1}, {0x00E0, 0x00F6, -32, 1},
    {0x00F8, 0x00FE, -32, 1}, {0x00FF, 0x00FF, 121, 1}, {0x0101, 0x012F, -1, 2},
    {0x0131, 0x0131, -232, 1}, {0x0133, 0x0137, -1, 2}, {0x013A, 0x0148, -1, 2},
    {0x014B, 0x0177, -1, 2}, {0x017A, 0x017E, -1, 2}, {0x017F, 0x017F, -300, 1},
    {0x0180, 0x0180, 195, 1}, {0x0183, 0x0185, -1, 2}, {0x0188, 0x0188, -1, 1},
    {0x018C, 0x018C, -1, 1}, {0x0192, 0x0192, -1, 1}, {0x0195, 0x0195, 97, 1},
    {0x0199, 0x0199, -1, 1}, {0x019A, 0x019A, 163, 1}, {0x019E, 0x019E, 130, 1},
    {0x01A1, 0x01A5, -1, 2}, {0x01A8, 0x01A8, -1, 1}, {0x01AD, 0x01AD, -1, 1},
    {0x01B0, 0x01B0, -1, 1}, {0x01B4, 0x01B6, -1, 2}, {0x01B9, 0x01B9, -1, 1},
    {0x01BD, 0x01BD, -1, 1}, {0x01BF, 0x01BF, 56, 1}, {0x01C5, 0x01C5, -1, 1},
    {0x01C6, 0x01C6, -2, 1}, {0x01C8, 0x01C8, -1, 1}, {0x01C9, 0x01C9, -2, 1},
    {0x01CB, 0x01CB, -1, 1}, {0x01CC, 0x01CC, -2, 1}, {0x01CE, 0x01DC, -1, 2},
    {0x01DD, 0x01DD, -79, 1}, {0x01DF, 0x01EF, -1, 2}, {0x01F2, 0x01F2, -1, 1},
    {0x01F3, 0x01F3, -2, 1}, {0x01F5, 0x01F5, -1, 1}, {0x01F9, 0x021F, -1, 2},
    {0x0223, 0x0233, -1, 2}, {0x023C, 0x023C, -1, 1}, {0x023F, 0x0240, 10815, 1},
    {0x0242, 0x0242, -1, 1}, {0x0247, 0x024F, -1, 2}, {0x0250, 0x0250, 10783, 1},
    {0x0251, 0x0251, 10780, 1}, {0x0252, 0x0252, 10782, 1}, {0x0253, 0x0253, -210, 1},
    {0x0254, 0x0254, -206, 1}, {0x0256, 0x0257, -205, 1}, {0x0259, 0x0259, -202, 1},
    {0x025B, 0x025B, -203, 1}, {0x025C, 0x025C, 42319, 1}, {0x0260, 0x0260, -205, 1},
    {0x0261, 0x0261, 42315, 1}, {0x0263, 0x0263, -207, 1}, {0x0265, 0x0265, 42280, 1},
    {0x0266, 0x0266, 42308, 1}, {0x0268, 0x0268, -209, 1}, {0x0269, 0x0269, -211, 1},
    {0x026A, 0x026A, 42308, 1}, {0x026B, 0x026B, 10743, 1}, {0x026C, 0x026C, 42305, 1},
    {0x026F, 0x026F, -211, 1}, {0x0271, 0x0271, 10749, 1}, {0x0272, 0x0272, -213, 1},
    {0x0275, 0x0275, -214, 1}, {0x027D, 0x027D, 10727, 1}, {0x0280, 0x0280, -218, 1},
    {0x0282, 0x0282, 42307, 1}, {0x0283, 0x0283, -218, 1}, {0x0287, 0x0287, 42282, 1},
    {0x0288, 0x0288, -218, 1}, {0x0289, 0x0289, -69, 1}, {0x028A, 0x028B, -217, 1},
    {0x028C, 0x028C, -71, 1}, {0x0292, 0x0292, -219, 1}, {0x029D, 0x029D, 42261, 1},
    {0x029E, 0x029E, 42258, 1}, {0x0345, 0x0345, 84, 1}, {0x0371, 0x0373, -1, 2},
    {0x0377, 0x0377, -1, 1}, {0x037B, 0x037D, 130, 1}, {0x03AC, 0x03AC, -38, 1},
    {0x03AD, 0x03AF, -37, 1}, {0x03B1, 0x03C1, -32, 1}, {0x03C2, 0x03C2, -31, 1},
    {0x03C3, 0x03CB, -32, 1}, {0x03CC, 0x03CC, -64, 1}, {0x03CD, 0x03CE, -63, 1},
    {0x03D0, 0x03D0, -62, 1}, {0x03D1, 0x03D1, -57, 1}, {0x03D5, 0x03D5, -47, 1},
    {0x03D6, 0x03D6, -54, 1}, {0x03D7, 0x03D7, -8, 1}, {0x03D9, 0x03EF, -1, 2},
    {0x03F0, 0x03F0, -86, 1}, {0x03F1, 0x03F1, -80, 1}, {0x03F2, 0x03F2, 7, 1},
    {0x03F3, 0x03F3, -116, 1}, {0x03F5, 0x03F5, -96, 1}, {0x03F8, 0x03F8, -1, 1},
    {0x03FB, 0x03FB, -1, 1}, {0x0430, 0x044F, -32, 1}, {0x0450, 0x045F, -80, 1},
    {0x0461, 0x0481, -1, 2}, {0x048B, 0x04BF, -1, 2}, {0x04C2, 0x04CE, -1, 2},
    {0x04CF, 0x04CF, -15, 1}, {0x04D1, 0x052F, -1, 2}, {0x0561, 0x0586, -48, 1},
    {0x10D0, 0x10FA, 3008, 1}, {0x10FD, 0x10FF, 3008, 1}, {0x13F8, 0x13FD, -8, 1},
    {0x1C80, 0x1C80, -6254, 1}, {0x1C81, 0x1C81, -6253, 1}, {0x1C82, 0x1C82, -6244, 1},
    {0x1C83, 0x1C84, -6242, 1}, {0x1C85, 0x1C85, -6243, 1}, {0x1C86, 0x1C86, -6236, 1},
    {0x1C87, 0x1C87, -6181, 1}, {0x1C88, 0x1C88, 35266, 1}, {0x1D79, 0x1D79, 35332, 1},
    {0x1D7D, 0x1D7D, 3814, 1}, {0x1D8E, 0x1D8E, 35384, 1}, {0x1E01, 0x1E95, -1, 2},
    {0x1E9B, 0x1E9B, -59, 1}, {0x1EA1, 0x1EFF, -1, 2}, {0x1F00, 0x1F07, 8, 1},
    {0x1F10, 0x1F15, 8, 1}, {0x1F20, 0x1F27, 8, 1}, {0x1F30, 0x1F37, 8, 1},
    {0x1F40, 0x1F45, 8, 1}, {0x1F51, 0x1F57, 8, 2}, {0x1F60, 0x1F67, 8, 1},
    {0x1F70, 0x1F71, 74, 1}, {0x1F72, 0x1F75, 86, 1}, {0x1F76, 0x1F77, 100, 1},
    {0x1F78, 0x1F79, 128, 1}, {0x1F7A, 0x1F7B, 112, 1}, {0x1F7C, 0x1F7D, 126, 1},
    {0x1F80, 0x1F87, 8, 1}, {0x1F90, 0x1F97, 8, 1}, {0x1FA0, 0x1FA7, 8, 1},
    {0x1FB0, 0x1FB1, 8, 1}, {0x1FB3, 0x1FB3, 9, 1}, {0x1FBE, 0x1FBE, -7205, 1},
    {0x1FC3, 0x1FC3, 9, 1}, {0x1FD0, 0x1FD1, 8, 1}, {0x1FE0, 0x1FE1, 8, 1},
    {0x1FE5, 0x1FE5, 7, 1}, {0x1FF3, 0x1FF3, 9, 1}, {0x214E, 0x214E, -28, 1},
    {0x2170, 0x217F, -16, 1}, {0x2184, 0x2184, -1, 1}, {0x24D0, 0x24E9, -26, 1},
    {0x2C30, 0x2C5E, -48, 1}, {0x2C61, 0x2C61, -1, 1}, {0x2C65, 0x2C65, -10795, 1},
    {0x2C66, 0x2C66, -10792, 1}, {0x2C68, 0x2C6C, -1, 2}, {0x2C73, 0x2C73, -1, 1},
    {0x2C76, 0x2C76, -1, 1}, {0x2C81, 0x2CE3, -1, 2}, {0x2CEC, 0x2CEE, -1, 2},
    {0x2CF3, 0x2CF3, -1, 1}, {0x2D00, 0x2D25, -7264, 1}, {0x2D27, 0x2D27, -7264, 1},
    {0x2D2D, 0x2D2D, -7264, 1}, {0xA641, 0xA66D, -1, 2}, {0xA681, 0xA69B, -1, 2},
    {0xA723, 0xA72F, -1, 2}, {0xA733, 0xA76F, -1, 2}, {0xA77A, 0xA77C, -1, 2},
    {0xA77F, 0xA787, -1, 2}, {0xA78C, 0xA78C, -1, 1}, {0xA791, 0xA793, -1, 2},
    {0xA794, 0xA794, 48, 1}, {0xA797, 0xA7A9, -1, 2}, {0xA7B5, 0xA7BF, -1, 2},
    {0xA7C3, 0xA7C3, -1, 1}, {0xA7C8, 0xA7CA, -1, 2}, {0xA7F6, 0xA7F6, -1, 1},
    {0xAB53, 0xAB53, -928, 1}, {0xAB70, 0xABBF, -38864, 1}, {0xFF41, 0xFF5A, -32, 1},
    {0x10428, 0x1044F, -40, 1}, {0x104D8, 0x104FB, -40, 1}, {0x10CC0, 0x10CF2, -64, 1},
    {0x118C0, 0x118DF, -32, 1}, {0x16E60, 0x16E7F, -32, 1}, {0x1E922, 0x1E943, -34, 1},
};
// clang-format on

char32_t map_case(char32_t r, std::span<const CaseRange> table) {
  auto it = std::upper_bound(table.begin(), table.end(), r,
                             [](char32_t v, const CaseRange& c) { return v < c.first; });
  if (it == table.begin()) return r;
  --it;
  if (r > it->last || (r - it->first) % it->step != 0) return r;
  return static_cast<char32_t>(static_cast<std::int32_t>(r) + it->delta);
}

std::string go_map_case(std::string_view s, std::span<const CaseRange> table) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(map_case(b, table)));
      ++i;
      continue;
    }
    // An ill-formed byte is U+FFFD, which maps to itself.
    const gotext::Rune r = gotext::decode_rune(s, i);
    gotext::append_utf8(out, map_case(r.value, table));
    i += r.width;
  }
  return out;
}

std::string go_to_lower(std::string_view s) {
  return go_map_case(s, kToLower);
}
std::string go_to_upper(std::string_view s) {
  return go_map_case(s, kToUpper);
}

// ---------------------------------------------------------------------------
// Names and quoting.

bool is_ascii_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Prometheus's (2.42) label name: [a-zA-Z_][a-zA-Z0-9_]*.
bool is_valid_label_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), is_ascii_word);
}

// What 2.42 accepts as a target_label (and a labelmap replacement): label
// name characters and $-references ($1, $name, ${name}), not starting with a
// digit. A hand-written equivalent of Prometheus's `relabelTarget` pattern.
bool is_valid_target_template(std::string_view t) {
  if (t.empty() || (t[0] >= '0' && t[0] <= '9')) return false;
  for (std::size_t i = 0; i < t.size();) {
    if (is_ascii_word(t[i])) {
      ++i;
      continue;
    }
    if (t[i] != '$' || i + 1 >= t.size()) return false;
    if (t[i + 1] == '{') {
      const std::size_t close = t.find('}', i + 2);
      if (close == std::string_view::npos || close == i + 2) return false;
      if (!std::all_of(t.begin() + i + 2, t.begin() + close, is_ascii_word)) return false;
      i = close + 1;
    } else {
      if (!is_ascii_word(t[i + 1])) return false;
      i += 2;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// Templates.

// Whether Go's template expansion takes this character into a $name (Go's
// unicode.IsLetter, unicode.IsDigit or '_').
bool is_template_name_rune(char32_t r) {
  if (r < 0x80) return is_ascii_word(static_cast<char>(r));
  static const re2::RE2 kLetterOrDigit("[\\pL\\p{Nd}]");
  std::string utf8;
  gotext::append_utf8(utf8, r);
  return re2::RE2::FullMatch(utf8, kLetterOrDigit);
}

// A replacement or target_label template, parsed once as Go's
// regexp.Expand reads it.
class Template {
 public:
  Template() = default;
  Template(std::string_view text, const re2::RE2& re) { parse(text, re); }

  // The largest group number a reference can need (0 when none).
  int max_group() const { return max_group_; }
  // No references: the expansion is always literal().
  bool is_literal() const { return pieces_.empty(); }
  const std::string& literal() const { return tail_; }

  // Appends the expansion for a match of `text` with `groups`.
  void expand(std::string_view text, std::span<const goregexp::Span> groups,
              std::string& out) const {
    for (const Piece& p : pieces_) {
      out.append(p.literal);
      for (int g : p.candidates) {
        if (groups[g].begin < 0) continue;  // Go tries the next group of the same name
        out.append(text.substr(groups[g].begin, groups[g].end - groups[g].begin));
        break;
      }
    }
    out.append(tail_);
  }

 private:
  struct Piece {
    std::string literal;          // text before the reference
    std::vector<int> candidates;  // groups it names, in order; empty: expands to ""
  };

  void parse(std::string_view t, const re2::RE2& re) {
    std::string literal;
    while (!t.empty()) {
      const std::size_t dollar = t.find('$');
      if (dollar == std::string_view::npos) break;
      literal.append(t.substr(0, dollar));
      t.remove_prefix(dollar + 1);
      if (!t.empty() && t[0] == '$') {  // $$
        literal.push_back('$');
        t.remove_prefix(1);
        continue;
      }
      std::string_view name;
      std::string_view rest;
      if (!extract_name(t, name, rest)) {  // malformed: the '$' is literal text
        literal.push_back('$');
        continue;
      }
      t = rest;
      pieces_.push_back({std::move(literal), groups_named(name, re)});
      literal.clear();
    }
    literal.append(t);
    tail_ = std::move(literal);
    for (const Piece& p : pieces_) {
      for (int g : p.candidates) max_group_ = std::max(max_group_, g);
    }
  }

  // After a '$': "name" or "{name}", the name being the longest run of
  // letters, digits and '_' (Unicode, as Go). False when there is none, or
  // no closing brace.
  static bool extract_name(std::string_view t, std::string_view& name, std::string_view& rest) {
    const bool brace = !t.empty() && t[0] == '{';
    if (brace) t.remove_prefix(1);
    std::size_t i = 0;
    while (i < t.size()) {
      const gotext::Rune r = gotext::decode_rune(t, i);
      if (!r.valid || !is_template_name_rune(r.value)) break;
      i += r.width;
    }
    if (i == 0) return false;
    name = t.substr(0, i);
    if (brace) {
      if (i >= t.size() || t[i] != '}') return false;
      ++i;
    }
    rest = t.substr(i);
    return true;
  }

  // A number refers to that group (nothing when the regex has fewer); other
  // names (leading zeros, 9+ digits included, as Go) to the groups so named.
  static std::vector<int> groups_named(std::string_view name, const re2::RE2& re) {
    long number = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || number >= 100'000'000) {
        number = -1;
        break;
      }
      number = number * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') number = -1;
    if (number >= 0) {
      if (number <= re.NumberOfCapturingGroups()) return {static_cast<int>(number)};
      return {};
    }
    std::vector<int> out;
    for (const auto& [index, group_name] : re.CapturingGroupNames()) {
      if (group_name == name) out.push_back(index);
    }
    return out;  // the map is ordered by index: Go's order
  }

  std::vector<Piece> pieces_;
  std::string tail_;  // text after the last reference
  int max_group_ = 0;
};

// ---------------------------------------------------------------------------
// Labels kept as a vector sorted by name, without empty values.

struct ByName {
  bool operator()(const Label& l, std::string_view n) const { return l.name < n; }
};

std::string_view get_label(const std::vector<Label>& labels, std::string_view name) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name, ByName{});
  return it != labels.end() && it->name == name ? std::string_view(it->value) : std::string_view();
}

void delete_label(std::vector<Label>& labels, std::string_view name) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name, ByName{});
  if (it != labels.end() && it->name == name) labels.erase(it);
}

// Prometheus's labels.Builder.Set: an empty value deletes.
void set_label(std::vector<Label>& labels, std::string_view name, std::string value) {
  if (value.empty()) {
    delete_label(labels, name);
    return;
  }
  auto it = std::lower_bound(labels.begin(), labels.end(), name, ByName{});
  if (it != labels.end() && it->name == name) {
    it->value = std::move(value);
  } else {
    labels.insert(it, Label{std::string(name), std::move(value)});
  }
}

// MD5 of the value, its last 8 bytes big endian (Prometheus's sum64: the
// shifts of the first 8 bytes overflow to nothing). nullopt if OpenSSL has no
// MD5 (a FIPS-only build).
std::optional<std::uint64_t> md5_sum64(std::string_view value) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(value.data(), value.size(), digest.data(), &size, EVP_md5(), nullptr) != 1 ||
      size != 16) {
    return std::nullopt;
  }
  std::uint64_t sum = 0;
  for (std::size_t i = 8; i < 16; ++i) sum = (sum << 8) | digest[i];
  return sum;
}

}  // namespace

// ---------------------------------------------------------------------------

struct Rule::Compiled {
  std::unique_ptr<const re2::RE2> regex;
  std::string target_label;              // as written; "" when unset
  Template target;                       // replace: target_label as a template
  Template replacement;                  // replace, labelmap
  bool literal_target_is_valid = false;  // replace with a literal target_label
  int groups_needed = 0;                 // submatches a replace/labelmap expansion reads
};

std::optional<Action> parse_action(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, Action>, 11> kNames{{
      {"replace", Action::kReplace},
      {"keep", Action::kKeep},
      {"drop", Action::kDrop},
      {"keepequal", Action::kKeepEqual},
      {"dropequal", Action::kDropEqual},
      {"hashmod", Action::kHashMod},
      {"labelmap", Action::kLabelMap},
      {"labeldrop", Action::kLabelDrop},
      {"labelkeep", Action::kLabelKeep},
      {"lowercase", Action::kLowercase},
      {"uppercase", Action::kUppercase},
  }};
  // Go's strings.ToLower, so the Kelvin sign in "\u212Aeep" is a 'k' too.
  const std::string lower = go_to_lower(name);
  for (const auto& [text, action] : kNames) {
    if (lower == text) return action;
  }
  return std::nullopt;
}

std::string_view to_string(Action action) {
  switch (action) {
    case Action::kReplace:
      return "replace";
    case Action::kKeep:
      return "keep";
    case Action::kDrop:
      return "drop";
    case Action::kKeepEqual:
      return "keepequal";
    case Action::kDropEqual:
      return "dropequal";
    case Action::kHashMod:
      return "hashmod";
    case Action::kLabelMap:
      return "labelmap";
    case Action::kLabelDrop:
      return "labeldrop";
    case Action::kLabelKeep:
      return "labelkeep";
    case Action::kLowercase:
      return "lowercase";
    case Action::kUppercase:
      return "uppercase";
  }
  return "unknown";
}

std::optional<Rule> compile(const RelabelSpec& spec, std::string* error) {
  const auto fail = [&](std::string message) -> std::optional<Rule> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  if (spec.action.empty()) return fail("relabel action cannot be empty");
  const std::optional<Action> parsed = parse_action(spec.action);
  if (!parsed) return fail(fmt::format("unknown relabel action {}", go_quote(spec.action)));
  const Action action = *parsed;
  const std::string_view name = to_string(action);

  const std::string regex(spec.regex.value_or(std::string(kDefaultRegex)));
  const std::string anchored = goregexp::anchored(regex);
  auto compiled = std::make_shared<Rule::Compiled>();
  goregexp::SyntaxError syntax_error;
  compiled->regex = goregexp::compile(anchored, goregexp::Groups::kCapture, &syntax_error);
  if (!compiled->regex) {
    // In RE2's words where RE2 has them (these messages always were), else
    // Go's; the user's regex where the whole anchored pattern is quoted.
    std::string reason = syntax_error.re2_error;
    if (reason.empty()) reason = syntax_error.code + ": " + syntax_error.expr;
    if (reason.ends_with(anchored)) {
      reason.replace(reason.size() - anchored.size(), anchored.size(), regex);
    }
    return fail(fmt::format("regex {}: {}", go_quote(regex), reason));
  }

  const std::string target_label = spec.target_label.value_or("");
  const std::string replacement(spec.replacement.value_or(std::string(kDefaultReplacement)));
  const bool writes_target = action == Action::kReplace || action == Action::kHashMod ||
                             action == Action::kLowercase || action == Action::kUppercase ||
                             action == Action::kKeepEqual || action == Action::kDropEqual;
  const bool takes_no_replacement = action == Action::kLowercase || action == Action::kUppercase ||
                                    action == Action::kKeepEqual || action == Action::kDropEqual;
  const bool is_equal_action = action == Action::kKeepEqual || action == Action::kDropEqual;

  // The checks and messages of Prometheus's relabel.Config, in its order.
  if (action == Action::kHashMod && spec.modulus == 0) {
    return fail("relabel configuration for hashmod requires non-zero modulus");
  }
  if (writes_target && target_label.empty()) {
    return fail(
        fmt::format("relabel configuration for {} action requires 'target_label' value", name));
  }
  if (writes_target && action != Action::kHashMod && !is_valid_target_template(target_label)) {
    return fail(
        fmt::format("{} is invalid 'target_label' for {} action", go_quote(target_label), name));
  }
  if (takes_no_replacement && replacement != kDefaultReplacement) {
    return fail(fmt::format("'replacement' can not be set for {} action", name));
  }
  if (action == Action::kLabelMap && !is_valid_target_template(replacement)) {
    return fail(
        fmt::format("{} is invalid 'replacement' for {} action", go_quote(replacement), name));
  }
  if (action == Action::kHashMod && !is_valid_label_name(target_label)) {
    return fail(
        fmt::format("{} is invalid 'target_label' for {} action", go_quote(target_label), name));
  }
  // Prometheus compares the regex with its default by identity: any regex
  // written, even "(.*)", is refused here.
  if (is_equal_action &&
      (spec.regex.has_value() || spec.modulus != 0 || spec.separator != kDefaultSeparator ||
       replacement != kDefaultReplacement)) {
    return fail(fmt::format(
        "{} action requires only 'source_labels' and `target_label`, and no other fields", name));
  }
  if ((action == Action::kLabelDrop || action == Action::kLabelKeep) &&
      (!spec.source_labels.empty() || !target_label.empty() || spec.modulus != 0 ||
       spec.separator != kDefaultSeparator || replacement != kDefaultReplacement)) {
    return fail(fmt::format("{} action requires only 'regex', and no other fields", name));
  }
  if (action == Action::kHashMod && !md5_sum64("")) {
    return fail("hashmod needs MD5, which this OpenSSL build does not provide");
  }

  compiled->target_label = target_label;
  if (action == Action::kReplace) {
    compiled->target = Template(target_label, *compiled->regex);
    compiled->literal_target_is_valid =
        compiled->target.is_literal() && is_valid_label_name(compiled->target.literal());
  }
  if (action == Action::kReplace || action == Action::kLabelMap) {
    compiled->replacement = Template(replacement, *compiled->regex);
    compiled->groups_needed =
        1 + std::max(compiled->target.max_group(), compiled->replacement.max_group());
  }
  return Rule(spec, action, std::move(compiled));
}

bool Rule::apply(std::vector<Label>& labels) const {
  const Compiled& c = *compiled_;
  // The joined source values. Read before `labels` changes: `value` may
  // point into it.
  std::string joined;
  std::string_view value;
  if (spec_.source_labels.size() == 1) {
    value = get_label(labels, spec_.source_labels[0]);
  } else if (!spec_.source_labels.empty()) {
    for (std::size_t i = 0; i < spec_.source_labels.size(); ++i) {
      if (i > 0) joined.append(spec_.separator);
      joined.append(get_label(labels, spec_.source_labels[i]));
    }
    value = joined;
  }

  std::array<goregexp::Span, 10> inline_groups;
  std::vector<goregexp::Span> heap_groups;
  std::span<goregexp::Span> groups(inline_groups.data(), static_cast<std::size_t>(c.groups_needed));
  if (groups.size() > inline_groups.size()) {
    heap_groups.resize(groups.size());
    groups = heap_groups;
  }

  switch (action_) {
    case Action::kDrop:
      return !goregexp::match(*c.regex, value);
    case Action::kKeep:
      return goregexp::match(*c.regex, value);
    case Action::kDropEqual:
      return get_label(labels, c.target_label) != value;
    case Action::kKeepEqual:
      return get_label(labels, c.target_label) == value;
    case Action::kReplace: {
      if (!goregexp::match(*c.regex, value, groups)) return true;
      std::string target;
      if (c.target.is_literal()) {
        if (!c.literal_target_is_valid) {
          delete_label(labels, c.target_label);
          return true;
        }
      } else {
        c.target.expand(value, groups, target);
        if (!is_valid_label_name(target)) {
          delete_label(labels, c.target_label);  // 2.42: the name as written
          return true;
        }
      }
      std::string result;
      c.replacement.expand(value, groups, result);
      if (result.empty()) {
        delete_label(labels, c.target_label);  // 2.42: the name as written
        return true;
      }
      set_label(labels, c.target.is_literal() ? c.target.literal() : target, std::move(result));
      return true;
    }
    case Action::kLowercase:
      set_label(labels, c.target_label, go_to_lower(value));
      return true;
    case Action::kUppercase:
      set_label(labels, c.target_label, go_to_upper(value));
      return true;
    case Action::kHashMod: {
      // compile() checked that MD5 is there.
      const std::uint64_t sum = md5_sum64(value).value_or(0);
      set_label(labels, c.target_label, std::to_string(sum % spec_.modulus));
      return true;
    }
    case Action::kLabelMap: {
      // Matches read the labels as they were before this rule; copies are
      // applied after, in name order (the last copy to a name wins).
      std::vector<Label> copies;
      for (const Label& l : labels) {
        if (!goregexp::match(*c.regex, l.name, groups)) continue;
        std::string new_name;
        c.replacement.expand(l.name, groups, new_name);
        copies.push_back({std::move(new_name), l.value});
      }
      for (Label& l : copies) set_label(labels, l.name, std::move(l.value));
      return true;
    }
    case Action::kLabelDrop:
      std::erase_if(labels, [&](const Label& l) { return goregexp::match(*c.regex, l.name); });
      return true;
    case Action::kLabelKeep:
      std::erase_if(labels, [&](const Label& l) { return !goregexp::match(*c.regex, l.name); });
      return true;
  }
  return true;
}

bool process(const std::vector<Rule>& rules, LabelSet& labels) {
  if (rules.empty()) return true;
  std::vector<Label> work = std::move(labels).release();
  for (const Rule& rule : rules) {
    if (!rule.apply(work)) {
      labels = LabelSet();
      return false;
    }
  }
  labels = LabelSet::adopt_sorted(std::move(work));
  return true;
}

// ---------------------------------------------------------------------------
// Durations (Prometheus's model.Duration).

namespace {

constexpr std::int64_t kMsPerSecond = 1000;
constexpr std::int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr std::int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr std::int64_t kMsPerDay = 24 * kMsPerHour;
constexpr std::int64_t kMsPerWeek = 7 * kMsPerDay;
constexpr std::int64_t kMsPerYear = 365 * kMsPerDay;

struct DurationUnit {
  std::string_view suffix;
  std::int64_t ms;
};
// In the order a duration must write them.
constexpr std::array<DurationUnit, 7> kDurationUnits{{{"y", kMsPerYear},
                                                      {"w", kMsPerWeek},
                                                      {"d", kMsPerDay},
                                                      {"h", kMsPerHour},
                                                      {"m", kMsPerMinute},
                                                      {"s", kMsPerSecond},
                                                      {"ms", 1}}};

}  // namespace

std::string format_duration(std::int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  for (const DurationUnit& unit : kDurationUnits) {
    // Years and weeks only when they are exact: "90d" reads better than "12w6d".
    const bool exact_only = unit.ms == kMsPerYear || unit.ms == kMsPerWeek;
    if (exact_only && ms % unit.ms != 0) continue;
    const std::int64_t count = ms / unit.ms;
    if (count > 0) {
      out += fmt::format("{}{}", count, unit.suffix);
      ms -= count * unit.ms;
    }
  }
  return out;
}

std::optional<std::int64_t> parse_duration(std::string_view text, std::string* error) {
  const auto fail = [&](std::string message) -> std::optional<std::int64_t> {
    if (error != nullptr) *error = std::move(message);
    return std::nullopt;
  };
  if (text == "0") return 0;
  if (text.empty()) return fail("empty duration string");
  const auto invalid = [&] { return fail("not a valid duration string: " + go_quote(text)); };

  // Each unit at most once, in kDurationUnits order, each after its digits.
  std::array<std::optional<std::string_view>, kDurationUnits.size()> digits_of;
  std::size_t next_unit = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) return invalid();
    const std::string_view digits = text.substr(start, i - start);
    std::size_t unit = kDurationUnits.size();
    if (text.substr(i, 2) == "ms") {
      unit = 6;
    } else if (i < text.size()) {
      const std::string_view units = "ywdhms";
      const std::size_t at = units.find(text[i]);
      if (at != std::string_view::npos) unit = at;
    }
    if (unit == kDurationUnits.size() || unit < next_unit) return invalid();
    i += kDurationUnits[unit].suffix.size();
    digits_of[unit] = digits;
    next_unit = unit + 1;
  }

  // Go's arithmetic: time.Duration nanoseconds that may wrap, an overflow
  // flagged by a count above the limit or a negative running total.
  constexpr std::int64_t kNsPerMs = 1'000'000;
  std::uint64_t total_ns = 0;
  bool overflow = false;
  for (std::size_t u = 0; u < kDurationUnits.size(); ++u) {
    if (!digits_of[u]) continue;
    std::int64_t count = 0;  // strconv.Atoi: saturates at the int64 maximum
    for (char d : *digits_of[u]) {
      if (count > (std::numeric_limits<std::int64_t>::max() - (d - '0')) / 10) {
        count = std::numeric_limits<std::int64_t>::max();
        break;
      }
      count = count * 10 + (d - '0');
    }
    const std::int64_t mult = kDurationUnits[u].ms;
    if (count > std::numeric_limits<std::int64_t>::max() / mult / kNsPerMs) overflow = true;
    total_ns += static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(kNsPerMs) *
                static_cast<std::uint64_t>(mult);
    if (static_cast<std::int64_t>(total_ns) < 0) overflow = true;
  }
  if (overflow) return fail("duration out of range");
  return static_cast<std::int64_t>(total_ns) / kNsPerMs;
}

// ---------------------------------------------------------------------------
// Target population (scrape/target.go PopulateLabels, 2.42).

namespace {

// Go's net.SplitHostPort, reduced to whether it succeeds: a last ':' with no
// other outside brackets; "[host]" must be followed by that colon; no stray
// brackets. The port may be empty.
bool splits_as_host_port(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::size_t no_open_from = 0;
  std::size_t no_close_from = 0;
  if (address[0] == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 != colon) return false;
    no_open_from = 1;
    no_close_from = close + 1;
  } else if (address.substr(0, colon).find(':') != std::string_view::npos) {
    return false;
  }
  return address.find('[', no_open_from) == std::string_view::npos &&
         address.find(']', no_close_from) == std::string_view::npos;
}

}  // namespace

LabelSet PopulateResult::public_labels() const {
  std::vector<Label> out;
  out.reserve(labels.size());
  for (const Label& l : labels) {
    if (!l.name.starts_with(kReservedLabelPrefix)) out.push_back(l);
  }
  return LabelSet::adopt_sorted(std::move(out));
}

PopulateResult populate_target(const LabelSet& discovered, const JobDefaults& job,
                               const std::vector<Rule>& rules) {
  PopulateResult out;
  const auto fail = [&](std::string message) {
    out = PopulateResult{};
    out.error = std::move(message);
    return out;
  };

  std::vector<Label> pre = discovered.labels();
  const auto set_default = [&](std::string_view name, std::string value) {
    if (get_label(pre, name).empty()) set_label(pre, name, std::move(value));
  };
  set_default("job", job.job);
  set_default(kScrapeIntervalLabel, format_duration(job.scrape_interval_ms));
  set_default(kScrapeTimeoutLabel, format_duration(job.scrape_timeout_ms));
  set_default(kMetricsPathLabel, job.metrics_path);
  set_default(kSchemeLabel, job.scheme);
  // Params override discovered labels; of a repeated name the first value counts.
  std::vector<std::string_view> params_seen;
  for (const auto& [name, value] : job.params) {
    if (std::find(params_seen.begin(), params_seen.end(), name) != params_seen.end()) continue;
    params_seen.push_back(name);
    set_label(pre, std::string(kParamLabelPrefix) + name, value);
  }
  out.discovered_labels = LabelSet::adopt_sorted(pre);

  LabelSet relabeled = LabelSet::adopt_sorted(std::move(pre));
  if (!process(rules, relabeled)) {
    out.dropped = true;
    return out;
  }
  std::vector<Label> labels = std::move(relabeled).release();

  std::string address(get_label(labels, kAddressLabel));
  if (address.empty()) return fail("no address");
  // A default port only where adding one makes a valid host:port ("::1"
  // stays as it is, "[::1]" becomes "[::1]:80").
  if (!splits_as_host_port(address) && splits_as_host_port(address + ":1234")) {
    const std::string_view scheme = get_label(labels, kSchemeLabel);
    if (scheme == "http" || scheme.empty()) {
      address += ":80";
    } else if (scheme == "https") {
      address += ":443";
    } else {
      return fail("invalid scheme: " + go_quote(job.scheme));  // 2.42 names the job's
    }
    set_label(labels, kAddressLabel, address);
  }
  if (address.find('/') != std::string::npos) {
    return fail(go_quote(address) + " is not a valid hostname");
  }

  const std::string interval(get_label(labels, kScrapeIntervalLabel));
  std::string duration_error;
  const std::optional<std::int64_t> interval_ms = parse_duration(interval, &duration_error);
  if (!interval_ms) return fail("error parsing scrape interval: " + duration_error);
  if (*interval_ms == 0) return fail("scrape interval cannot be 0");
  const std::string timeout(get_label(labels, kScrapeTimeoutLabel));
  const std::optional<std::int64_t> timeout_ms = parse_duration(timeout, &duration_error);
  if (!timeout_ms) return fail("error parsing scrape timeout: " + duration_error);
  if (*timeout_ms == 0) return fail("scrape timeout cannot be 0");
  if (*timeout_ms > *interval_ms) {
    return fail(fmt::format("scrape timeout cannot be greater than scrape interval ({} > {})",
                            go_quote(timeout), go_quote(interval)));
  }

  std::erase_if(labels, [](const Label& l) { return l.name.starts_with(kMetaLabelPrefix); });
  if (get_label(labels, "instance").empty()) set_label(labels, "instance", address);
  for (const Label& l : labels) {
    if (!gotext::is_valid_utf8(l.value)) {
      return fail(
          fmt::format("invalid label value for {}: {}", go_quote(l.name), go_quote(l.value)));
    }
  }

  out.labels = LabelSet::adopt_sorted(std::move(labels));
  out.scrape_interval_ms = *interval_ms;
  out.scrape_timeout_ms = *timeout_ms;
  return out;
}

}  // namespace watch::relabel

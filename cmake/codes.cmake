# Generates the C++ table of error and close codes from protocol/codes.json,
# the single registry shared with the SDKs (PROTOCOL.md sections 11 and 12).
set(PARLEY_CODES_JSON "${CMAKE_SOURCE_DIR}/protocol/codes.json")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PARLEY_CODES_JSON}")
file(READ "${PARLEY_CODES_JSON}" _codes)

set(_errors_enum "")
set(_errors_names "")
string(JSON _n LENGTH "${_codes}" errors)
math(EXPR _last "${_n} - 1")
foreach(_i RANGE ${_last})
  string(JSON _code GET "${_codes}" errors ${_i} code)
  string(APPEND _errors_enum "    ${_code},\n")
  string(APPEND _errors_names "    \"${_code}\",\n")
endforeach()

set(_close_enum "")
set(_close_reasons "")
string(JSON _n LENGTH "${_codes}" close)
math(EXPR _last "${_n} - 1")
foreach(_i RANGE ${_last})
  string(JSON _code GET "${_codes}" close ${_i} code)
  string(JSON _name GET "${_codes}" close ${_i} name)
  string(JSON _reason GET "${_codes}" close ${_i} reason)
  string(APPEND _close_enum "    ${_name} = ${_code},\n")
  string(APPEND _close_reasons "        case close_code::${_name}: return \"${_reason}\";\n")
endforeach()

set(PARLEY_GENERATED_DIR "${CMAKE_BINARY_DIR}/generated")
file(CONFIGURE OUTPUT "${PARLEY_GENERATED_DIR}/parley/codes.hpp" CONTENT
"// Generated from protocol/codes.json by cmake/codes.cmake. Do not edit.
// Error codes (PROTOCOL.md section 11) and close codes (section 12).
#pragma once
#include <cstdint>
#include <string_view>

namespace parley {

enum class error_code : std::uint8_t {
${_errors_enum}};

inline constexpr std::string_view error_code_names[] = {
${_errors_names}};

inline constexpr std::string_view to_string(error_code c) {
    return error_code_names[static_cast<std::size_t>(c)];
}

inline constexpr std::size_t error_code_count = sizeof(error_code_names) / sizeof(error_code_names[0]);

enum class close_code : std::uint16_t {
${_close_enum}};

// The reason string the server sends with each close code (4001 carries a specific reason).
inline constexpr std::string_view default_reason(close_code c) {
    switch (c) {
${_close_reasons}    }
    return \"\";
}

}  // namespace parley
" @ONLY)

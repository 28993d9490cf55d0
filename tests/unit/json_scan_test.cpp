#include <gtest/gtest.h>
#include "proto/json_scan.hpp"
TEST(json_scan, placeholder) { EXPECT_TRUE(parley::json::validate("{}")); }

// The CLI's help: `layerlab --help` lists the commands, `layerlab CMD --help` lists the options
// that CMD accepts (taken from its own flag parser) and exits 0; unknown options stay errors.
#include <gtest/gtest.h>

#include <string>

#include "cli_run.h"

namespace layerlab::testing {
namespace {

TEST(CliHelp, TopLevelListsEveryCommand) {
  const CliRun r = run_cli("--help");
  EXPECT_EQ(r.status, 0) << r.out;
  for (const char* c : {"info", "forward", "generate", "similarity", "tokenize", "train", "serve", "eval", "sweep", "plot"})
    EXPECT_NE(r.out.find(std::string("  ") + c + " "), std::string::npos) << c << "\n" << r.out;
}

TEST(CliHelp, CommandHelpListsItsOptionsWithoutLoadingAModel) {
  const CliRun g = run_cli("generate --help");
  EXPECT_EQ(g.status, 0) << g.out;
  for (const char* o : {"--model VALUE", "--prompt VALUE", "--plan VALUE", "--variant VALUE", "--temperature VALUE",
                        "--top-p VALUE", "--tokens VALUE"})
    EXPECT_NE(g.out.find(o), std::string::npos) << o << "\n" << g.out;
  const CliRun e = run_cli("eval --help");
  EXPECT_EQ(e.status, 0) << e.out;
  EXPECT_NE(e.out.find("--task VALUE"), std::string::npos) << e.out;
}

TEST(CliHelp, UnknownOptionIsStillAnError) {
  const CliRun r = run_cli("forward --model x --helpx");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--helpx: unknown option"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace layerlab::testing

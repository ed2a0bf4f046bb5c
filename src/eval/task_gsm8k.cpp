// GSM8K: few-shot chain-of-thought generation (lm-eval gsm8k.yaml): the first
// num_fewshot train records as exemplars, greedy decoding until "\n\n" or "Question:" or
// max_gen_tokens, exact match of the extracted number against the reference's "#### N".
#include <filesystem>

#include "layerlab/error.h"
#include "layerlab/eval_text.h"
#include "layerlab/fs.h"
#include "layerlab/generate.h"
#include "task_common.h"

namespace layerlab::evalimpl {

namespace {

class Gsm8kTask : public Task {
 public:
  Gsm8kTask(const std::string& path, const TextCodec& codec, const ModelConfig& cfg, const TaskOptions& opts)
      : codec_(codec), opts_(opts) {
    if (!codec.decode) fail("gsm8k", "needs a tokenizer that decodes");
    if (opts.max_gen_tokens < 1) fail_option("max_gen_tokens", "must be at least 1");
    const int context = context_length(cfg, opts.window);
    if (opts.max_gen_tokens >= context)
      fail_option("max_gen_tokens", "leaves no room for the prompt in a context of " + std::to_string(context) + " tokens");
    std::vector<std::pair<std::string, std::string>> shots;
    if (opts.num_fewshot < 0) fail_option("num_fewshot", "must be >= 0");
    if (opts.num_fewshot > 0) {
      std::string train = opts.train_path;
      if (train.empty()) train = (std::filesystem::path(path).parent_path() / "train.jsonl").string();
      if (!file_exists(train)) fail(train, "gsm8k exemplars file not found (give --train FILE or --num-fewshot 0)");
      const auto recs = evaltext::read_jsonl(train);
      if (recs.size() < static_cast<size_t>(opts.num_fewshot))
        fail(train, "holds fewer than --num-fewshot " + std::to_string(opts.num_fewshot) + " records");
      for (int i = 0; i < opts.num_fewshot; ++i)  // lm-eval's first_n sampler
        shots.emplace_back(evaltext::str_field(recs[i].value, "question", recs[i].where),
                           evaltext::str_field(recs[i].value, "answer", recs[i].where));
    }
    auto recs = evaltext::read_jsonl(path);
    if (opts.limit > 0 && static_cast<size_t>(opts.limit) < recs.size()) recs.resize(static_cast<size_t>(opts.limit));
    const size_t max_prompt = static_cast<size_t>(context - opts.max_gen_tokens);
    for (const auto& r : recs) {
      Item it;
      std::vector<int32_t> ids = codec.encode(evaltext::gsm8k_prompt(shots, evaltext::str_field(r.value, "question", r.where)));
      if (codec.add_bos && codec.bos_id >= 0) ids.insert(ids.begin(), codec.bos_id);
      if (ids.size() > max_prompt) ids.erase(ids.begin(), ids.end() - max_prompt);  // lm-eval keeps the end
      it.prompt = std::move(ids);
      it.reference = evaltext::gsm8k_reference(evaltext::str_field(r.value, "answer", r.where));
      it.question = evaltext::str_field(r.value, "question", r.where);
      items_.push_back(std::move(it));
    }
  }
  std::string name() const override { return "gsm8k"; }
  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  double chance() const override { return 0.0; }

  int64_t work_tokens() const override {
    int64_t n = 0;
    for (const Item& it : items_) n += item_tokens(it);
    return n;
  }

  std::vector<TaskResult> run(Runner& runner, const std::vector<Plan>& plans, const EvalHooks& hooks) override {
    SamplingParams greedy;
    greedy.temperature = 0;
    ChunkPlan cp;
    for (size_t i = 0; i <= items_.size(); ++i) cp.bounds.push_back(i);  // one item a chunk
    cp.tokens = [&](size_t i) { return item_tokens(items_[i]); };
    cp.n_values = [](size_t) { return size_t(2); };
    cp.score = [&](size_t i, size_t) {
      const Item& it = items_[i];
      std::vector<std::vector<ItemRecord>> out(plans.size());
      for (size_t p = 0; p < plans.size(); ++p) {
        const std::string response = respond(runner, plans[p], it.prompt, greedy);
        const std::string strict = evaltext::gsm8k_normalise(evaltext::gsm8k_strict(response));
        const std::string flexible = evaltext::gsm8k_normalise(evaltext::gsm8k_flexible(response));
        ItemRecord r;
        r.values = {strict == it.reference ? 1.0 : 0.0, flexible == it.reference ? 1.0 : 0.0};
        r.sample = {{"question", it.question},           {"prompt_tokens", it.prompt.size()},
                    {"generation", response},            {"answer_strict", strict},
                    {"answer_flexible", flexible},       {"gold", it.reference},
                    {"exact_match", r.values[0] > 0 ? 1 : 0}, {"exact_match_flexible", r.values[1] > 0 ? 1 : 0}};
        out[p].push_back(std::move(r));
      }
      return out;
    };
    const auto recs = run_chunks(cp, plans.size(), hooks);
    std::vector<TaskResult> out(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) {
      std::vector<double> strict, flexible;
      for (const ItemRecord& r : recs[p]) {
        strict.push_back(r.values[0]);
        flexible.push_back(r.values[1]);
      }
      out[p].metrics = {mean_metric("exact_match", strict), mean_metric("exact_match_flexible", flexible)};
      out[p].items = size();
    }
    return out;
  }

 private:
  struct Item {
    std::vector<int32_t> prompt;
    std::string reference, question;
  };
  // Progress counts the prompt and the most tokens an answer may take.
  int64_t item_tokens(const Item& it) const { return static_cast<int64_t>(it.prompt.size()) + opts_.max_gen_tokens; }
  // Greedy continuation, cut at the first stop string.
  std::string respond(Runner& runner, const Plan& plan, const std::vector<int32_t>& prompt, const SamplingParams& sp) {
    std::vector<int32_t> gen;
    std::string text;
    generate(runner, plan, prompt, opts_.max_gen_tokens, sp, codec_.eos_id, [&](int32_t t) {
      if (t == codec_.eos_id) return false;
      gen.push_back(t);
      text = codec_.decode(gen);
      return evaltext::cut_at_stop(text, evaltext::gsm8k_stop_strings()).size() == text.size();
    });
    return evaltext::cut_at_stop(text, evaltext::gsm8k_stop_strings());
  }
  TextCodec codec_;
  TaskOptions opts_;
  std::vector<Item> items_;
};

}  // namespace

std::unique_ptr<Task> make_gsm8k_task(const std::string& path, const TextCodec& codec, const ModelConfig& cfg,
                                      const TaskOptions& opts) {
  return std::make_unique<Gsm8kTask>(path, codec, cfg, opts);
}

}  // namespace layerlab::evalimpl

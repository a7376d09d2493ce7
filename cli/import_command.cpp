// `vserver import FILE`: reads the YAML file, hands each key to the plugin that declared it as an
// import section (dq/sdk/import.h), and reports what each section did. The whole file is checked
// before anything is written; the sections prepare slow work (hashing) before the one write
// transaction opens, so that transaction stays short. Which models exist is the plugins' business.
#include "commands.h"
#include "kernel/app/kernel.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <algorithm>
#include <iomanip>
#include <map>
#include <mutex>
#include <ostream>
#include <thread>
#include <yaml-cpp/yaml.h>

namespace dq::cli {

namespace {

using sdk::ImportValue;

/// The YAML tree with each value's path and line, as the sections read it.
ImportValue toImportValue(const YAML::Node& node, const std::string& path) {
    ImportValue value;
    value.path = path;
    value.line = node.Mark().line + 1;
    switch (node.Type()) {
    case YAML::NodeType::Scalar:
        value.kind = ImportValue::Kind::Scalar;
        value.text = node.Scalar();
        break;
    case YAML::NodeType::Sequence:
        value.kind = ImportValue::Kind::List;
        for (std::size_t i = 0; i < node.size(); ++i)
            value.items.push_back(toImportValue(node[i], path + "[" + std::to_string(i) + "]"));
        break;
    case YAML::NodeType::Map:
        value.kind = ImportValue::Kind::Map;
        for (const auto& entry : node) {
            auto key = entry.first.Scalar();
            auto item = toImportValue(entry.second, path.empty() ? key : path + "." + key);
            // An empty value (`place:`) is marked where the next token starts: name the key's line.
            if (item.isNull())
                item.line = entry.first.Mark().line + 1;
            value.entries.emplace_back(key, std::move(item));
        }
        break;
    default: // a key without a value (`address2:`) is null, as in vantage6's loader
        value.kind = ImportValue::Kind::Null;
    }
    return value;
}

ImportValue readFile(const std::string& path, const std::string& name) {
    try {
        return toImportValue(YAML::LoadFile(path), "");
    } catch (const YAML::BadFile&) {
        throw std::runtime_error(path + ": cannot read the file");
    } catch (const YAML::ParserException& e) {
        throw std::runtime_error(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                 std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
    }
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : ", ") + i;
    return out;
}

/// Every problem of the file, each as `<file>: <path>: <what> (line <n>)`.
class Problems : public sdk::ImportCheck {
public:
    explicit Problems(std::string file) : file_(std::move(file)) {}
    using sdk::ImportCheck::problem;
    void problem(const std::string& path, int line, const std::string& what) override {
        all_.push_back(file_ + ": " + (path.empty() ? "(top)" : path) + ": " + what +
                       (line > 0 ? " (line " + std::to_string(line) + ")" : ""));
    }
    const std::vector<std::string>& all() const { return all_; }
    /// The prefix of an error found while writing `value`.
    std::string where(const ImportValue& value) const {
        return file_ + ": " + value.path + " (line " + std::to_string(value.line) + "): ";
    }

private:
    std::string file_;
    std::vector<std::string> all_;
};

struct Counts {
    int created = 0, updated = 0, unchanged = 0;
};

/// A declared section, its instance for this import and the sections nested in its entries.
struct Section {
    std::string plugin;
    const sdk::ImportSectionDecl* decl = nullptr;
    std::string place; ///< "organizations.users"
    std::shared_ptr<sdk::ImportSection> run;
    std::vector<Section*> nested;
};

class Import : public sdk::ImportContext {
public:
    Import(kernel::Kernel& kernel, std::string file) : kernel_(kernel), problems_(std::move(file)) {
        for (const auto& d : kernel.catalog().importSections())
            sections_.push_back({d.plugin, &d.decl,
                                 d.decl.within.empty() ? d.decl.key : d.decl.within + "." + d.decl.key,
                                 d.decl.create(), {}});
        for (auto& s : sections_) {
            if (s.decl->within.empty()) {
                top_.push_back(&s);
                continue;
            }
            auto parent = std::find_if(sections_.begin(), sections_.end(),
                                       [&](const Section& p) { return p.place == s.decl->within; });
            if (parent != sections_.end())
                parent->nested.push_back(&s);
        }
    }

    bool hasSections() const { return !top_.empty(); }

    /// Checks the whole file; throws every problem at once.
    void check(const ImportValue& root) {
        if (!root.isMap()) {
            problems_.problem("", root.line, "expected a mapping with " + topKeys());
        } else {
            for (const auto& [key, value] : root.entries)
                if (std::none_of(top_.begin(), top_.end(), [&](const Section* s) { return s->decl->key == key; }))
                    problems_.problem(value, "unknown key (expected one of: " + topKeys() +
                                                 "; no enabled plugin imports '" + key + "')");
            for (auto* s : top_)
                walkCheck(*s, valueAt(root, s->decl->key), {});
        }
        if (!problems_.all().empty()) {
            std::string all;
            for (const auto& p : problems_.all())
                all += (all.empty() ? "" : "\n") + p;
            throw std::runtime_error(all);
        }
    }

    void prepare() {
        for (auto& s : sections_)
            s.run->prepare(*this);
    }

    void apply(const ImportValue& root, sdk::Store& store) {
        for (auto* s : top_)
            walkApply(*s, valueAt(root, s->decl->key), {}, store);
    }

    void report(std::ostream& out) const {
        std::size_t width = 15;
        for (const auto& [what, c] : counts_)
            width = std::max(width, what.size() + 1);
        for (const auto& [what, c] : counts_)
            out << "  " << std::left << std::setw(static_cast<int>(width)) << what << c.created << " created, " << c.updated
                << " updated, " << c.unchanged << " unchanged\n";
    }

    // ---- sdk::ImportContext ----
    void read(const std::function<void(sdk::Store&)>& work) override {
        kernel_.database().transaction(work, kernel::Database::Access::Read);
    }

    void parallel(std::size_t count, const std::function<void(std::size_t)>& work) override {
        std::mutex lock;
        std::size_t next = 0;
        std::exception_ptr failure;
        auto worker = [&] {
            for (;;) {
                std::size_t i;
                {
                    std::lock_guard guard(lock);
                    if (next >= count || failure)
                        return;
                    i = next++;
                }
                try {
                    work(i);
                } catch (...) {
                    std::lock_guard guard(lock);
                    if (!failure)
                        failure = std::current_exception();
                }
            }
        };
        std::vector<std::thread> workers;
        auto threads = std::min<std::size_t>(count, std::max(2u, std::thread::hardware_concurrency()));
        for (std::size_t i = 0; i < threads; ++i)
            workers.emplace_back(worker);
        for (auto& w : workers)
            w.join();
        if (failure)
            std::rethrow_exception(failure);
    }

    sdk::Passwords& passwords() override { return kernel_.servicesOf("kernel").passwords(); }

    void imported(const ImportValue& entry, sdk::Id id) override { ids_[entry.path] = id; }

    std::optional<sdk::Id> idOf(const ImportValue& entry) const override {
        auto it = ids_.find(entry.path);
        return it == ids_.end() ? std::nullopt : std::optional<sdk::Id>(it->second);
    }

    void count(const std::string& what, sdk::ImportOutcome outcome) override {
        auto it = std::find_if(counts_.begin(), counts_.end(), [&](const auto& c) { return c.first == what; });
        if (it == counts_.end())
            it = counts_.insert(counts_.end(), {what, Counts{}});
        auto& c = it->second;
        ++(outcome == sdk::ImportOutcome::Created   ? c.created
           : outcome == sdk::ImportOutcome::Updated ? c.updated
                                                    : c.unchanged);
    }

private:
    /// `map[key]`, or a null value standing where the key would be.
    static ImportValue valueAt(const ImportValue& map, const std::string& key) {
        if (const auto* v = map.find(key))
            return *v;
        ImportValue absent;
        absent.path = map.path.empty() ? key : map.path + "." + key;
        absent.line = map.line;
        return absent;
    }

    std::string topKeys() const {
        std::vector<std::string> keys;
        for (const auto* s : top_)
            keys.push_back(s->decl->key);
        return joined(keys);
    }

    /// The mappings of a section's list (the entries nested sections live in).
    static std::vector<const ImportValue*> entriesOf(const ImportValue& value) {
        std::vector<const ImportValue*> out;
        for (const auto& item : value.items)
            if (item.isMap())
                out.push_back(&item);
        return out;
    }

    void walkCheck(const Section& s, const ImportValue& value, const sdk::ImportParent& parent) {
        s.run->check(value, parent, problems_);
        if (s.decl->keys.empty() && s.nested.empty())
            return;
        std::vector<std::string> known = s.decl->keys;
        for (const auto* n : s.nested)
            if (std::find(known.begin(), known.end(), n->decl->key) == known.end())
                known.push_back(n->decl->key);
        for (const auto* entry : entriesOf(value)) {
            for (const auto& [key, v] : entry->entries)
                if (std::find(known.begin(), known.end(), key) == known.end())
                    problems_.problem(v, "unknown key (expected one of: " + joined(known) + ")");
            for (const auto* n : s.nested)
                walkCheck(*n, valueAt(*entry, n->decl->key), {entry, 0});
        }
    }

    void walkApply(const Section& s, const ImportValue& value, const sdk::ImportParent& parent, sdk::Store& store) {
        try {
            s.run->apply(value, parent, store, *this);
        } catch (const std::exception& e) {
            throw std::runtime_error(problems_.where(value) + e.what());
        }
        for (const auto* entry : entriesOf(value))
            for (const auto* n : s.nested)
                walkApply(*n, valueAt(*entry, n->decl->key), {entry, idOf(*entry).value_or(0)}, store);
    }

    kernel::Kernel& kernel_;
    Problems problems_;
    std::vector<Section> sections_;
    std::vector<Section*> top_;
    std::map<std::string, sdk::Id> ids_;
    std::vector<std::pair<std::string, Counts>> counts_;
};

} // namespace

int importCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    try {
        const std::string& path = args.words[1];
        auto root = readFile(path, Poco::Path(path).getFileName());
        auto instance = resolveInstance(args);
        auto config = loadConfig(instance, args);
        if (args.flag("drop-all") && !config.allowDropAll) {
            err << "vserver import: --drop-all refused: set allow_drop_all: true in " << instance.configFile
                << " to allow wiping the database\n";
            return 2;
        }
        Poco::Logger::root().setLevel("warning");
        Poco::File(instance.dataFolder).createDirectories();
        kernel::Kernel kernel(config, instance.dataFolder);
        kernel.load();
        Import import(kernel, Poco::Path(path).getFileName());
        if (!import.hasSections())
            throw std::runtime_error("no enabled plugin imports anything: enable the organizations, users, "
                                     "collaborations, nodes and tasks plugins");
        import.check(root);
        if (args.flag("drop-all")) {
            kernel.database().dropAll();
            kernel.database().migrate();
        }
        kernel.start();
        import.prepare();
        kernel.database().transaction([&](sdk::Store& store) { import.apply(root, store); });
        out << "imported " << path << ":\n";
        import.report(out);
        return 0;
    } catch (const std::exception& e) {
        err << "vserver import: nothing was imported:\n" << e.what() << "\n";
        return 1;
    }
}

} // namespace dq::cli

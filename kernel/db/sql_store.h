// The sdk::Store over one Poco::Data session inside one transaction: generic, declaration-checked
// SQL for the declared models, delete rules across plugins, and parameterised raw SQL.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/db/schema.h"
#include "kernel/db/sql.h"
#include "kernel/db/statements.h"

#include <dq/sdk/services.h>
#include <dq/sdk/store.h>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace dq::kernel {

class SqlStore : public sdk::Store {
public:
    /// `events` goes to the models' insert hooks; without it they do not run (schema tools, tests).
    /// `inheritance`: the parent tables found by the last migration (schema::inheritanceOf).
    /// `statements`: the connection's prepared statements, used for every statement when given.
    SqlStore(Poco::Data::Session& session, sql::Dialect dialect, const Catalog& catalog,
             sdk::Events* events = nullptr, const schema::Inheritance* inheritance = nullptr,
             sql::Statements* statements = nullptr);

    std::optional<sdk::Record> find(const std::string& model, sdk::Id id) override;
    std::vector<sdk::Record> select(const std::string& model, const sdk::Query& query = {}) override;
    std::int64_t count(const std::string& model, const sdk::Query& query = {}) override;
    sdk::Id insert(const std::string& model, const sdk::Record& record) override;
    void update(const std::string& model, sdk::Id id, const sdk::Record& changes) override;
    void remove(const std::string& model, sdk::Id id) override;
    std::vector<sdk::Id> associated(const std::string& model, sdk::Id id, const std::string& name) override;
    void setAssociated(const std::string& model, sdk::Id id, const std::string& name,
                       const std::vector<sdk::Id>& ids) override;
    sdk::Rows query(const std::string& sql, const std::vector<sdk::Value>& params = {}) override;
    void execute(const std::string& sql, const std::vector<sdk::Value>& params = {}) override;
    std::string dialect() const override;

    /// The session under this store's transaction (schema work goes through it).
    Poco::Data::Session& session() { return session_; }
    /// What this transaction wrote: "table" for rows inserted or deleted (and raw SQL writes),
    /// "table.column" for the columns an update set. Association changes count as their owner's row.
    const std::set<std::string>& written() const { return written_; }

private:
    const sdk::ModelDecl& model(const std::string& name) const;
    /// The quoted column after checking that `model` declares it.
    std::string column(const sdk::ModelDecl& model, const std::string& name) const;
    /// `value` converted to what `column` stores; a value of the wrong kind is a BadRequest.
    sdk::Value bindable(const sdk::ModelDecl& model, const std::string& column,
                        const sdk::Value& value) const;
    std::string where(const sdk::ModelDecl& model, const sdk::Query& query,
                      std::vector<sdk::Value>& params) const;
    std::vector<sdk::Record> records(const sdk::ModelDecl& model, const std::string& tail,
                                     const std::vector<sdk::Value>& params);
    void requireValues(const sdk::ModelDecl& model, const std::map<std::string, sdk::Value>& values,
                       bool allColumns, const std::string& action) const;
    /// Runs `work` inside a savepoint, so a failed write leaves the transaction as it was (and, on
    /// PostgreSQL, still usable).
    void atomically(const std::function<void()>& work);
    /// Turns a driver's constraint violation into Conflict / BadRequest naming the field; rethrows
    /// anything else unchanged. Call from a catch block.
    [[noreturn]] void rethrowConstraint(const sdk::ModelDecl& model, const std::string& message) const;
    void removeRow(const sdk::ModelDecl& model, sdk::Id id);
    /// The table `model` inherits its id from (joined-table inheritance), if any.
    std::optional<std::string> parentOf(const sdk::ModelDecl& model) const;
    /// Notes the table a raw statement writes (UPDATE t / INSERT INTO t / DELETE FROM t).
    void noteRawWrite(const std::string& text);
    /// sql::query / sql::execute, through the connection's prepared statements when there are.
    sdk::Rows run(const std::string& text, const std::vector<sdk::Value>& params = {});
    void exec(const std::string& text, const std::vector<sdk::Value>& params = {});

    Poco::Data::Session& session_;
    sql::Dialect dialect_;
    const Catalog& catalog_;
    sdk::Events* events_;
    const schema::Inheritance* inheritance_;
    sql::Statements* statements_;
    int savepoints_ = 0;
    std::set<std::pair<std::string, sdk::Id>> removing_;
    std::set<std::string> written_;
};

} // namespace dq::kernel

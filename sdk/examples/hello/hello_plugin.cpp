// An example plugin written against the installed SDK only: one setting, one model, two routes
// (one described for the API documentation) and a CLI command. Enable it with `plugins: {enabled: [...,
// hello], folders: [<its build dir>, ...]}`.
#include <dq/sdk/plugin.h>
#include <ostream>

namespace hello {

using namespace dq::sdk;

class HelloPlugin : public Plugin {
public:
    PluginInfo info() const override {
        return {"hello", "0.1.0", "Greets visitors and counts the greetings", {}};
    }

    void declare(Registry& registry) override {
        registry.setting({"greeting", SettingDecl::Type::Text, "Hello", "what to say"});
        registry.model(ModelDecl("greeting")
                           .resource("/hello")
                           .field(Field{"text", FieldType::Text, false})
                           .field(Field{"created_at", FieldType::DateTime}));

        // Public: anyone may be greeted; each greeting is stored.
        registry.route({Method::Post, "/hello", {}, [this](RequestContext& ctx) {
                            JsonBody body(ctx.request());
                            auto name = body.text("name", JsonBody::Need::Required);
                            body.done();
                            Record greeting;
                            greeting.set("text", greeting_ + ", " + *name + "!").set("created_at", nowUtc());
                            greeting.id = ctx.store().insert("greeting", greeting);
                            return Response::json(
                                ctx.serialize("greeting", *ctx.store().find("greeting", greeting.id)), 201);
                        }});
        registry.route(
            {Method::Get, "/hello", {}, [](RequestContext& ctx) { return ctx.list("greeting", {}); }});
        // What the API description (/apispec_1.json) shows of the body; the rest it knows already.
        RouteDoc greet{Method::Post, "/hello"};
        greet.body = {{"name", ApiField::Type::Text, true, "who to greet"}};
        registry.document(greet);
        registry.command({{"hello", "count"}, "Count the greetings", {}, "", [](CommandContext& ctx) {
                              ctx.out() << ctx.store().count("greeting") << " greetings\n";
                              return 0;
                          }});
    }

    void start(Services& services) override { greeting_ = services.settings().text("greeting"); }

private:
    std::string greeting_;
};

} // namespace hello

DQ_PLUGIN(hello::HelloPlugin)

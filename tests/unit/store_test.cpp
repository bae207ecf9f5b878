#define BOOST_TEST_MODULE store
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>

#include "error.hpp"
#include "store.hpp"

using namespace lbkit;
namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir()
    {
        char tmpl[] = "/tmp/lbkit-store-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

BOOST_AUTO_TEST_CASE(migrations_run_once_in_order)
{
    TempDir d;
    std::string file = store::state_path((d.path / "state").string(), "t.db");
    std::vector<std::string> v1 = {"CREATE TABLE a(x INTEGER)"};
    {
        store::Db db(file, v1);
        BOOST_TEST(db.user_version() == 1);
        db.prepare("INSERT INTO a(x) VALUES(?1)").bind_all(int64_t{7}).run();
    }
    std::vector<std::string> v2 = {v1[0], "ALTER TABLE a ADD COLUMN y TEXT DEFAULT 'z'"};
    store::Db db(file, v2);
    BOOST_TEST(db.user_version() == 2);
    auto s = db.prepare("SELECT x, y FROM a");
    BOOST_REQUIRE(s.step());
    BOOST_TEST(s.i64(0) == 7);
    BOOST_TEST(s.text(1) == "z");
    auto mode = db.prepare("PRAGMA journal_mode");
    mode.step();
    BOOST_TEST(mode.text(0) == "wal");
}

BOOST_AUTO_TEST_CASE(newer_schema_is_refused)
{
    TempDir d;
    std::string file = (d.path / "t.db").string();
    { store::Db db(file, {"CREATE TABLE a(x)", "CREATE TABLE b(x)"}); }
    try {
        store::Db db(file, {"CREATE TABLE a(x)"});
        BOOST_FAIL("no error");
    } catch (const Error& e) {
        BOOST_TEST(e.exit_code() == EX_CONFIG);
    }
}

BOOST_AUTO_TEST_CASE(failed_migration_leaves_old_version)
{
    TempDir d;
    std::string file = (d.path / "t.db").string();
    { store::Db db(file, {"CREATE TABLE a(x)"}); }
    BOOST_CHECK_THROW(store::Db(file, {"CREATE TABLE a(x)", "THIS IS NOT SQL"}), Error);
    store::Db db(file, {"CREATE TABLE a(x)"});
    BOOST_TEST(db.user_version() == 1);
}

BOOST_AUTO_TEST_CASE(transaction_rolls_back_unless_committed)
{
    TempDir d;
    store::Db db((d.path / "t.db").string(), {"CREATE TABLE a(x TEXT)"});
    {
        store::Transaction tx(db);
        db.prepare("INSERT INTO a VALUES(?1)").bind_all(std::string("'; DROP TABLE a; --")).run();
    }
    auto count = db.prepare("SELECT count(*) FROM a");
    count.step();
    BOOST_TEST(count.i64(0) == 0);
    {
        store::Transaction tx(db);
        db.prepare("INSERT INTO a VALUES(?1)").bind_all(std::string("'; DROP TABLE a; --")).run();
        tx.commit();
    }
    auto back = db.prepare("SELECT x FROM a");
    BOOST_REQUIRE(back.step());
    BOOST_TEST(back.text(0) == "'; DROP TABLE a; --");
}

BOOST_AUTO_TEST_CASE(optional_binds_null)
{
    TempDir d;
    store::Db db((d.path / "t.db").string(), {"CREATE TABLE a(x REAL)"});
    std::optional<double> none;
    db.prepare("INSERT INTO a VALUES(?1)").bind_all(none).run();
    auto s = db.prepare("SELECT x FROM a");
    s.step();
    BOOST_TEST(s.is_null(0));
}

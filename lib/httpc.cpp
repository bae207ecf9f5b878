#include "httpc.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <map>
#include <mutex>

#include "error.hpp"
#include "log.hpp"

namespace lbkit::httpc {
namespace {

struct EasyFree { void operator()(CURL* c) const { curl_easy_cleanup(c); } };
struct SlistFree { void operator()(curl_slist* s) const { curl_slist_free_all(s); } };
struct MultiFree { void operator()(CURLM* m) const { curl_multi_cleanup(m); } };
using EasyPtr = std::unique_ptr<CURL, EasyFree>;
using SlistPtr = std::unique_ptr<curl_slist, SlistFree>;
using MultiPtr = std::unique_ptr<CURLM, MultiFree>;

void global_init()
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t on_body(char* data, size_t size, size_t n, void* user)
{
    auto* body = static_cast<std::string*>(user);
    // A control answer is small; refuse to buffer a runaway one.
    if (body->size() + size * n > (64u << 20))
        return 0;
    body->append(data, size * n);
    return size * n;
}

// One transfer's handles and buffers; lives until its callback has run.
struct Transfer {
    uint64_t id = 0;
    Request req;
    EasyPtr easy{curl_easy_init()};
    SlistPtr headers;
    std::string body;
    char errbuf[CURL_ERROR_SIZE] = {};
    Callback cb;
};

void configure(Transfer& t)
{
    CURL* e = t.easy.get();
    if (!e)
        throw Error(EX_OSERR, "http client: cannot create a curl handle");
    curl_easy_setopt(e, CURLOPT_URL, t.req.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(t.req.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(t.req.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t.body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    // Control traffic goes straight to the daemon, never through a proxy
    // taken from the environment.
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    if (!t.req.reuse)
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_slist* h = nullptr;
    h = curl_slist_append(h, "Expect:");
    if (!t.req.body.empty() || t.req.method == "POST" || t.req.method == "PUT")
        h = curl_slist_append(h, ("Content-Type: " + t.req.content_type).c_str());
    if (!t.req.bearer.empty())
        h = curl_slist_append(h, ("Authorization: Bearer " + t.req.bearer).c_str());
    for (const auto& extra : t.req.headers)
        h = curl_slist_append(h, extra.c_str());
    t.headers.reset(h);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (t.req.method == "GET") {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        if (t.req.method != "POST")
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t.req.method.c_str());
        if (!t.req.body.empty() || t.req.method == "POST" || t.req.method == "PUT") {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.req.body.data());
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.req.body.size()));
        }
    }
}

Result finish(Transfer& t, CURLcode code)
{
    Result r;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(t.easy.get(), CURLINFO_TOTAL_TIME, &r.seconds);
    if (code != CURLE_OK)
        r.error = t.errbuf[0] ? t.errbuf : curl_easy_strerror(code);
    r.body = std::move(t.body);
    return r;
}

}  // namespace

std::string Result::describe() const
{
    if (!error.empty())
        return error;
    std::string s = std::to_string(status);
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string())
        return s + " " + j["error"].get<std::string>();
    if (!body.empty() && body.size() < 200)
        return s + " " + body.substr(0, body.find('\n'));
    return s;
}

struct Client::Impl {
    Loop& loop;
    MultiPtr multi{curl_multi_init()};
    ev::EventPtr timer;
    std::map<uint64_t, std::unique_ptr<Transfer>> transfers;
    uint64_t next_id = 1;

    struct Socket { ev::EventPtr ev; };

    explicit Impl(Loop& l) : loop(l)
    {
        timer.reset(evtimer_new(loop.base(), &Impl::on_timer, this));
        curl_multi_setopt(multi.get(), CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
        curl_multi_setopt(multi.get(), CURLMOPT_SOCKETDATA, this);
        curl_multi_setopt(multi.get(), CURLMOPT_TIMERFUNCTION, &Impl::on_timer_set);
        curl_multi_setopt(multi.get(), CURLMOPT_TIMERDATA, this);
        curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, 4096L);
    }

    ~Impl()
    {
        for (auto& [id, t] : transfers)
            curl_multi_remove_handle(multi.get(), t->easy.get());
    }

    static int on_timer_set(CURLM*, long timeout_ms, void* arg)
    {
        auto* self = static_cast<Impl*>(arg);
        if (timeout_ms < 0) {
            evtimer_del(self->timer.get());
            return 0;
        }
        timeval tv = to_timeval(Millis(timeout_ms));
        evtimer_add(self->timer.get(), &tv);
        return 0;
    }

    static void on_timer(evutil_socket_t, short, void* arg)
    {
        auto* self = static_cast<Impl*>(arg);
        int running = 0;
        curl_multi_socket_action(self->multi.get(), CURL_SOCKET_TIMEOUT, 0, &running);
        self->collect();
    }

    static int on_socket(CURL*, curl_socket_t s, int what, void* arg, void* sockp)
    {
        auto* self = static_cast<Impl*>(arg);
        auto* sock = static_cast<Socket*>(sockp);
        if (what == CURL_POLL_REMOVE) {
            delete sock;
            curl_multi_assign(self->multi.get(), s, nullptr);
            return 0;
        }
        if (!sock) {
            sock = new Socket;
            curl_multi_assign(self->multi.get(), s, sock);
        }
        short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
        sock->ev.reset(event_new(self->loop.base(), s, kind, &Impl::on_event, self));
        event_add(sock->ev.get(), nullptr);
        return 0;
    }

    static void on_event(evutil_socket_t fd, short kind, void* arg)
    {
        auto* self = static_cast<Impl*>(arg);
        int flags = ((kind & EV_READ) ? CURL_CSELECT_IN : 0) | ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
        int running = 0;
        curl_multi_socket_action(self->multi.get(), fd, flags, &running);
        self->collect();
    }

    // Hands finished transfers to their callbacks.
    void collect()
    {
        int left = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            Transfer* raw = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &raw);
            CURLcode code = msg->data.result;
            curl_multi_remove_handle(multi.get(), msg->easy_handle);
            auto it = transfers.find(raw->id);
            std::unique_ptr<Transfer> t = std::move(it->second);
            transfers.erase(it);
            Result r = finish(*t, code);
            if (t->cb)
                t->cb(r);
        }
    }
};

Client::Client(Loop& loop)
{
    global_init();
    impl_ = std::make_unique<Impl>(loop);
    if (!impl_->multi)
        throw Error(EX_OSERR, "http client: cannot create a curl multi handle");
}

Client::~Client() = default;

uint64_t Client::start(Request req, Callback cb)
{
    auto t = std::make_unique<Transfer>();
    t->id = impl_->next_id++;
    t->req = std::move(req);
    t->cb = std::move(cb);
    configure(*t);
    if (curl_multi_add_handle(impl_->multi.get(), t->easy.get()) != CURLM_OK)
        throw Error(EX_SOFTWARE, "http client: cannot start a transfer to " + t->req.url);
    uint64_t id = t->id;
    impl_->transfers.emplace(id, std::move(t));
    return id;
}

void Client::cancel(uint64_t id)
{
    auto it = impl_->transfers.find(id);
    if (it == impl_->transfers.end())
        return;
    curl_multi_remove_handle(impl_->multi.get(), it->second->easy.get());
    impl_->transfers.erase(it);
}

Result fetch(const Request& req)
{
    global_init();
    Transfer t;
    t.req = req;
    configure(t);
    CURLcode code = curl_easy_perform(t.easy.get());
    return finish(t, code);
}

}  // namespace lbkit::httpc

// Relay history: one row per relayed exchange (lbproxy(8), History), recorded
// off the hot path. The row and the sink interface are the relay engine's
// (lib/http/exchange_row.hpp): the request path records through it, the
// admin API / lbctl history read; history_store.cpp implements it.
#pragma once
#include "http/exchange_row.hpp"

namespace lbproxy {

using Exchange = lbkit::http::Exchange;
using HistorySink = lbkit::http::ExchangeSink;

}  // namespace lbproxy

// lbsniff: passive load measurement and server state notification.
// parse -> configure -> capture -> loop; lbkit::cli::run turns errors into
// exit codes (see EXIT STATUS in lbsniff.8).
#include "cli.hpp"
#include "options.hpp"
#include "sniffer.hpp"

int main(int argc, char** argv)
{
    CLI::App app{"Count the traffic to watched web servers, infer their state, report to lbstated"};
    app.name("lbsniff");
    lbsniff::Options options;
    lbsniff::add_options(app, options);
    return lbkit::cli::run(app, argc, argv, [&] {
        lbsniff::validate(options);
        lbsniff::Sniffer sniffer(options);
        return sniffer.run();
    });
}

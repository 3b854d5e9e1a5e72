using LstmStream.Hosting.Cli;

return await CliApplication.InvokeAsync(args).ConfigureAwait(false);

using HierDiff.Cli;

return HierDiffCli.Run(args);

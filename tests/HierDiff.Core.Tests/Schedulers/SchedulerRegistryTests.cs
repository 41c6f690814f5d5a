using static HierDiff.Core.Tests.Schedulers.SchedulerTestKit;

namespace HierDiff.Core.Tests.Schedulers;

/// <summary>The registry's table is the one place a scheduler is registered: names, the factory, the diffusers
/// class mapping, fixed options, help and errors all follow from its rows.</summary>
public class SchedulerRegistryTests
{
    private static SchedulerRegistry Default => SchedulerRegistry.Default;

    [Fact]
    public void EveryRowMakesASchedulerOfItsOwnNameAndClaimsItsDiffusersClasses()
    {
        Assert.NotEmpty(Default.Rows);
        foreach (var row in Default.Rows)
        {
            Assert.Equal(row.Name, Default.Create(row.Name, Sd15, 10).Name);
            Assert.Equal(row.Name, Default.Create(row.Name.ToUpperInvariant(), Sd15, 10).Name);
            Assert.NotEmpty(row.DiffusersClasses);
            Assert.All(row.DiffusersClasses, c => Assert.Equal(row.Name, Default.NameForClass(c)));
        }
    }

    [Fact]
    public void FactoryFrontsAreTheRegistry()
    {
        Assert.Equal(Default.Rows.Select(r => r.Name), SchedulerFactory.Names);
        Assert.Equal(["ddpm", "ddim", "euler", "euler-ancestral", "dpm++2m", "pndm", "lms", "unipc", "flow-euler"], SchedulerFactory.Names);
        Assert.Equal(SchedulerFactory.FlowEuler, SchedulerFactory.NameForClass("FlowMatchEulerDiscreteScheduler"));
    }

    [Fact]
    public void HelpListsEveryRegisteredName()
    {
        Assert.Equal("ddpm, ddim, euler, euler-ancestral, dpm++2m, pndm, lms, unipc or flow-euler", Default.HelpList);
    }

    [Fact]
    public void UnknownNameErrorListsEveryRegisteredName()
    {
        var error = Assert.Throws<HierDiffInputException>(() => Default.Create("heun", Sd15, 10));
        Assert.Equal(Default.UnknownNameMessage("heun"), error.Message);
        Assert.All(Default.Names, name => Assert.Contains(name, error.Message));
        Assert.False(Default.IsKnown("heun"));
    }

    [Fact]
    public void OneMoreRowIsEnoughForNamesAliasesClassesHelpAndErrors()
    {
        var registry = WithExtraRow(new SchedulerRegistration(
            "ddim-again", ["DDIMAgainScheduler"], (c, k) => new DdimScheduler(c, k), [], ["again"]));

        Assert.Equal("ddim-again", registry.Names[^1]);
        Assert.True(registry.IsKnown("AGAIN"));
        Assert.IsType<DdimScheduler>(registry.Create("again", Sd15, 10));
        Assert.Equal("ddim-again", registry.NameForClass("DDIMAgainScheduler"));
        Assert.EndsWith("unipc, flow-euler or ddim-again (or again)", registry.HelpList);
        Assert.EndsWith("flow-euler, ddim-again", registry.UnknownNameMessage("heun"));
    }

    [Theory]
    [InlineData("ddim", "DDIMAgainScheduler", "scheduler name 'ddim' is registered twice")]
    [InlineData("ddim-again", "DDIMScheduler", "diffusers class 'DDIMScheduler' is registered to two schedulers")]
    [InlineData("Ddim-Again", "DDIMAgainScheduler", "scheduler name 'Ddim-Again' must be lower case")]
    public void CollidingRowsAreRefused(string name, string className, string expected)
    {
        var row = new SchedulerRegistration(name, [className], (c, k) => new DdimScheduler(c, k), []);
        var error = Assert.Throws<InvalidOperationException>(() => WithExtraRow(row));
        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void AnOptionFixedAtTwoValuesIsRefused()
    {
        var row = new SchedulerRegistration(
            "ddim-again", ["DDIMAgainScheduler"], (c, k) => new DdimScheduler(c, k), [FixedOption.Flag("thresholding", true)]);
        var error = Assert.Throws<InvalidOperationException>(() => WithExtraRow(row));
        Assert.Equal("option 'thresholding' is fixed at two different values", error.Message);
    }

    [Fact]
    public void FixedOptionsAreRefusedExactlyByTheRowsThatListThem()
    {
        var options = Default.Rows.SelectMany(r => r.FixedOptions).DistinctBy(o => o.Key).ToArray();
        foreach (var option in options)
        {
            var config = SchedulerConfig.Parse($$"""{ "{{option.Key}}": {{Unsupported(option)}} }""", "cfg.json");
            foreach (var row in Default.Rows)
            {
                string Create() => Default.Create(row.Name, config, 10).Name;
                if (row.FixedOptions.Contains(option))
                {
                    var error = Assert.Throws<HierDiffInputException>(Create);
                    Assert.StartsWith($"cfg.json: key '{option.Key}' is ", error.Message);
                    Assert.EndsWith($"; scheduler {row.Name} supports only {option.Supported}", error.Message);
                }
                else
                {
                    Assert.Equal(row.Name, Create());
                }
            }
        }
    }

    /// <summary>A JSON value other than the one the option is fixed at.</summary>
    private static string Unsupported(FixedOption option) => option.Supported switch
    {
        "true" => "false",
        "false" => "true",
        "null" => "[0.1]",
        ['"', ..] => "\"something else\"",
        _ => "12345",
    };

    private static SchedulerRegistry WithExtraRow(SchedulerRegistration row) => new([.. Default.Rows, row]);
}

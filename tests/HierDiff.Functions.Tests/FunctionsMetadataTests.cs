using System.Text.Json;

namespace HierDiff.Functions.Tests;

/// <summary>What the Functions host will read from the build: every trigger and binding, and the host settings.</summary>
public class FunctionsMetadataTests
{
    private static readonly JsonElement[] Functions =
        [.. JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "functions.metadata"))).RootElement.EnumerateArray()];

    private static JsonElement Binding(string function, string type) =>
        Functions.Single(f => f.GetProperty("name").GetString() == function)
            .GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString() == type);

    [Fact]
    public void TheBuildListsEveryFunction() =>
        Assert.Equal(
            ["ConditionClusters", "EncodePrompts", "FinishRun", "FinishShard", "GetRun", "PlanRun", "PostCallback", "PrepareRun", "RecordCallback", "RunOrchestrator", "RunSegments", "ScheduleSegments", "ShardOrchestrator", "ShardPrompts", "StartFromBlob", "StartRun", "SubtreeOrchestrator", "TreeShard"],
            Functions.Select(f => f.GetProperty("name").GetString()).Order());

    [Fact]
    public void UploadsToThePromptsContainerStartRunsThroughEventGrid()
    {
        JsonElement trigger = Binding("StartFromBlob", "blobTrigger");
        Assert.Equal("prompts/{name}", trigger.GetProperty("path").GetString());
        Assert.Equal("EventGrid", trigger.GetProperty("source").GetString());
        Assert.Equal("HierDiffStorage", trigger.GetProperty("connection").GetString());
        Assert.Equal(JsonValueKind.Object, Binding("StartFromBlob", "durableClient").ValueKind);
    }

    [Theory]
    [InlineData("StartRun", "post", "runs")]
    [InlineData("GetRun", "get", "runs/{id}")]
    public void TheHttpApiNeedsAFunctionKey(string function, string method, string route)
    {
        JsonElement trigger = Binding(function, "httpTrigger");
        Assert.Equal("Function", trigger.GetProperty("authLevel").GetString());
        Assert.Equal([method], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(route, trigger.GetProperty("route").GetString());
    }

    [Theory]
    [InlineData("RunOrchestrator", "orchestrationTrigger")]
    [InlineData("SubtreeOrchestrator", "orchestrationTrigger")]
    [InlineData("ShardOrchestrator", "orchestrationTrigger")]
    [InlineData("PrepareRun", "activityTrigger")]
    [InlineData("EncodePrompts", "activityTrigger")]
    [InlineData("ShardPrompts", "activityTrigger")]
    [InlineData("TreeShard", "activityTrigger")]
    [InlineData("PlanRun", "activityTrigger")]
    [InlineData("ConditionClusters", "activityTrigger")]
    [InlineData("ScheduleSegments", "activityTrigger")]
    [InlineData("RunSegments", "activityTrigger")]
    [InlineData("FinishRun", "activityTrigger")]
    [InlineData("PostCallback", "activityTrigger")]
    [InlineData("RecordCallback", "activityTrigger")]
    public void OrchestratorsAndActivitiesHaveTheirTriggers(string function, string type) =>
        Assert.Equal("In", Binding(function, type).GetProperty("direction").GetString());

    [Fact]
    public void TheRepositorysHostJsonShipsWithTheApp()
    {
        using JsonDocument host = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "host.json")));
        Assert.Equal("2.0", host.RootElement.GetProperty("version").GetString());
        Assert.Equal("HierDiff", host.RootElement.GetProperty("extensions").GetProperty("durableTask").GetProperty("hubName").GetString());
    }
}

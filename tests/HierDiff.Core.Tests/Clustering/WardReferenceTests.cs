using System.Text.Json;
using HierDiff.Core.Clustering;
using HierDiff.Core.Embeddings;
using HierDiff.Core.Planning;

namespace HierDiff.Core.Tests.Clustering;

/// <summary>The tree and the call counts must be scipy's and the paper's, for every reference case.</summary>
public class WardReferenceTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string json in Directory.GetFiles(TestPaths.Data("ward"), "*.json").Order())
        {
            data.Add(Path.GetFileNameWithoutExtension(json));
        }

        return data;
    }

    [Fact]
    public void ThereAreReferenceCases() => Assert.True(Cases().Count >= 3);

    [Theory]
    [MemberData(nameof(Cases))]
    public void LinkageMatchesScipy(string name)
    {
        (EmbeddingMatrix x, JsonElement reference) = Load(name);
        Linkage z = WardLinkage.FromEmbeddings(x);

        JsonElement rows = reference.GetProperty("linkage");
        Assert.Equal(rows.GetArrayLength(), z.Rows.Count);
        int i = 0;
        foreach (JsonElement row in rows.EnumerateArray())
        {
            double[] r = row.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            LinkageRow mine = z.Rows[i];
            Assert.True((int)r[0] == mine.Left && (int)r[1] == mine.Right,
                $"row {i}: scipy merges ({r[0]}, {r[1]}), we merge ({mine.Left}, {mine.Right})");
            Assert.True(Math.Abs(mine.Height - r[2]) <= 1e-9 * Math.Abs(r[2]),
                $"row {i}: scipy height {r[2]:R}, ours {mine.Height:R}");
            Assert.Equal((int)r[3], mine.Count);
            i++;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DenoiserCallsMatchThePapersCount(string name)
    {
        (EmbeddingMatrix x, JsonElement reference) = Load(name);
        Linkage z = WardLinkage.FromEmbeddings(x);

        foreach (JsonProperty entry in reference.GetProperty("denoiser_calls").EnumerateObject())
        {
            // "tau=0.25,K=40"
            string[] parts = entry.Name.Split(',');
            double tau = double.Parse(parts[0]["tau=".Length..], System.Globalization.CultureInfo.InvariantCulture);
            int k = int.Parse(parts[1]["K=".Length..], System.Globalization.CultureInfo.InvariantCulture);

            HierarchicalPlan plan = HierarchicalPlan.Build(z, tau, k);
            Assert.True(entry.Value.GetInt64() == plan.DenoiserCalls, $"{entry.Name}: paper {entry.Value}, plan {plan.DenoiserCalls}");
            Assert.Equal(plan.DenoiserCalls, HierarchicalPlan.CountDenoiserCalls(z, tau, k));
            Assert.Equal(reference.GetProperty("standard_calls").GetProperty($"K={k}").GetInt64(), plan.StandardDenoiserCalls);
        }
    }

    private static (EmbeddingMatrix, JsonElement) Load(string name)
    {
        EmbeddingMatrix x = EmbeddingFile.Read(TestPaths.Data("ward", name + ".npy"));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(TestPaths.Data("ward", name + ".json")));
        return (x, doc.RootElement.Clone());
    }
}
